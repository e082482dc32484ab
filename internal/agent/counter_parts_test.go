package agent

import (
	"testing"

	"github.com/eid-agent/eid-agent/card"
	"github.com/eid-agent/eid-agent/internal/agent/config"
)

// TestCounterParts shows what the counter reads for each field a pairing
// may name: what a read of the field reads (readParts) but never the chip
// challenge, which the counter sends itself, and the certificates only
// for a revocation check.
func TestCounterParts(t *testing.T) {
	const id = card.PartIdentity
	tests := []struct {
		field      string
		revocation bool
		want       card.Parts
		read       card.Parts // readParts of the field, for comparison
	}{
		{"card", false, id, id},
		{"identity", false, id, id},
		{"identity.surname", false, id, id},
		{"address", false, id | card.PartAddress, id | card.PartAddress},
		{"photo", false, id | card.PartPhoto, id | card.PartPhoto},
		{"photoSha256", false, id | card.PartPhoto, id | card.PartPhoto},
		{"integrity", false, id | card.PartAddress | card.PartPhoto,
			id | card.PartAddress | card.PartPhoto | card.PartChipAuthentication},
		{"identity", true, id | card.PartCertificates, id},
		{"integrity", true, id | card.PartAddress | card.PartPhoto | card.PartCertificates,
			id | card.PartAddress | card.PartPhoto | card.PartChipAuthentication},
	}
	covered := map[string]bool{}
	for _, tc := range tests {
		covered[tc.field] = true
		if got := counterParts([]string{tc.field}, tc.revocation); got != tc.want {
			t.Errorf("counterParts(%q, revocation %v) = %b, want %b", tc.field, tc.revocation, got, tc.want)
		}
		if got := readParts([]string{tc.field}); got != tc.read {
			t.Errorf("readParts(%q) = %b, want %b", tc.field, got, tc.read)
		}
	}
	// Every field the configuration accepts for a pairing is in the table.
	for _, f := range config.CounterFields() {
		if !covered[f] {
			t.Errorf("counter field %q has no row", f)
		}
	}

	// Several pairings: the union of what each needs.
	c := &Counter{apps: map[string]CounterApp{
		"https://a.example": {Fields: []string{"identity.surname"}},
		"app:desk":          {Fields: []string{"photo", "integrity"}, Revocation: true},
	}}
	if got, want := c.parts(), id|card.PartAddress|card.PartPhoto|card.PartCertificates; got != want {
		t.Errorf("parts = %b, want %b", got, want)
	}
	if got := (&Counter{}).parts(); got != id {
		t.Errorf("no pairing: parts = %b, want the identity", got)
	}
}
