package agent

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eid-agent/eid-agent/bridge"
	"github.com/eid-agent/eid-agent/internal/agent/audit"
	"github.com/eid-agent/eid-agent/proof"
)

// proofsJournal writes records made for two origins, a desktop app, the
// CLI, and one written before records named their caller.
func proofsJournal(t *testing.T) (*Proofs, string) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "proofs.jsonl")
	j, err := proof.Open(path, proof.Options{})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 11, 2, 9, 0, 0, 0, proof.Brussels)
	for i, c := range []struct {
		caller, ssin string
		fields       []string
	}{
		{"https://a.example", "85073003328", nil},
		{"https://b.example", "17073003384", nil},
		{"https://a.example", "17073003384", nil},
		{"app:billing", "85073003328", nil},
		{proof.CallerCLI, "85073003328", nil},
		{"", "85073003328", nil},
		// A read of the card alone: a.example never had this SSIN.
		{"https://a.example", "12060105317", []string{"card"}},
	} {
		r := proof.Record{ReadAt: start.Add(time.Duration(i) * time.Minute), SupportType: proof.SupportISIPlus,
			InputType: proof.InputBarcode, SerialNumber: "591201099997", SSIN: c.ssin, SSINKind: "NN",
			Validity: proof.DocumentValidityUnknown, Caller: c.caller, Fields: c.fields}
		if _, err := j.Append(r); err != nil {
			t.Fatal(err)
		}
	}
	j.Close()
	log, err := audit.Open(filepath.Join(dir, "audit.jsonl"), audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { log.Close() })
	return &Proofs{Path: path, Audit: log}, filepath.Join(dir, "audit.jsonl")
}

func listCallers(t *testing.T, p *Proofs, req bridge.ProofsListRequest) []string {
	t.Helper()
	raw, err := p.ListProofs(context.Background(), req)
	if err != nil {
		t.Fatalf("%+v: %v", req, err)
	}
	var recs []proof.Record
	if err := json.Unmarshal(raw, &recs); err != nil {
		t.Fatal(err)
	}
	out := []string{}
	for _, r := range recs {
		out = append(out, r.Caller)
	}
	return out
}

// TestListProofsScope: a caller sees only the records made for it; with
// All (the bridge checked the administrator's proofs-all grant) every
// record, old ones without a caller included. Filters and the limit
// apply within the scope, so another caller's readings of an SSIN cannot
// be probed.
func TestListProofsScope(t *testing.T) {
	p, _ := proofsJournal(t)
	a := bridge.Caller{Origin: "https://a.example"}
	for _, tt := range []struct {
		name string
		req  bridge.ProofsListRequest
		want []string
	}{
		{"own", bridge.ProofsListRequest{Caller: a}, []string{"https://a.example", "https://a.example"}},
		{"own, ssin of another caller's reading", bridge.ProofsListRequest{Caller: a, SSIN: "85073003328"}, []string{"https://a.example"}},
		{"own, limit", bridge.ProofsListRequest{Caller: a, Limit: 1}, []string{"https://a.example"}},
		{"other origin", bridge.ProofsListRequest{Caller: bridge.Caller{Origin: "https://b.example"}}, []string{"https://b.example"}},
		{"desktop app", bridge.ProofsListRequest{Caller: bridge.Caller{App: "billing"}}, []string{"app:billing"}},
		{"nobody's", bridge.ProofsListRequest{Caller: bridge.Caller{Origin: "https://c.example"}, SSIN: "85073003328"}, []string{}},
		{"own, ssin never given", bridge.ProofsListRequest{Caller: a, SSIN: "12060105317"}, []string{}},
		{"all", bridge.ProofsListRequest{Caller: a, All: true},
			[]string{"https://a.example", "https://b.example", "https://a.example", "app:billing", "cli", "", "https://a.example"}},
		{"all, ssin", bridge.ProofsListRequest{Caller: a, All: true, SSIN: "17073003384"}, []string{"https://b.example", "https://a.example"}},
	} {
		if got := listCallers(t, p, tt.req); !slices.Equal(got, tt.want) {
			t.Errorf("%s: callers %q, want %q", tt.name, got, tt.want)
		}
	}
}

// TestListProofsAudited: every list, refused ones included, leaves an
// audit entry saying who, whose records, the filters and how many records
// went out, and never the SSIN asked about.
func TestListProofsAudited(t *testing.T) {
	p, auditPath := proofsJournal(t)
	a := bridge.Caller{Origin: "https://a.example"}
	listCallers(t, p, bridge.ProofsListRequest{Caller: a, SSIN: "17073003384", Since: "2026-11-01T00:00:00+01:00", Support: "4", Limit: 100})
	listCallers(t, p, bridge.ProofsListRequest{Caller: bridge.Caller{App: "billing"}, All: true})
	_, err := p.ListProofs(context.Background(), bridge.ProofsListRequest{Caller: a, Until: "yesterday\x1b[2J"})
	var be *bridge.Error
	if !errors.As(err, &be) || be.Code != bridge.CodeBadRequest {
		t.Fatalf("bad until: %v", err)
	}
	// The red team's planted text: a national number and a name as
	// filter values reach the journal as "(invalid)" only.
	p.ListProofs(context.Background(), bridge.ProofsListRequest{Caller: a, Since: "90122468782", Support: "Specimen Lucas"})
	entries, err := audit.ReadAll(auditPath)
	if err != nil || len(entries) != 4 {
		t.Fatalf("audit: %v %+v", err, entries)
	}
	count := func(e audit.Entry) int {
		if e.Count == nil {
			return -1
		}
		return *e.Count
	}
	e := entries[0]
	if e.Caller != "https://a.example" || e.Operation != "proofs.list" || e.Scope != "own" || count(e) != 1 || e.Outcome != "ok" ||
		!slices.Equal(e.Filters, []string{"since=2026-11-01T00:00:00+01:00", "support=4", "ssin", "limit=100"}) {
		t.Errorf("own list audited as %+v", e)
	}
	if e := entries[1]; e.Caller != "app:billing" || e.Scope != "all" || count(e) != 7 || e.Filters != nil {
		t.Errorf("list of all audited as %+v", e)
	}
	if e := entries[2]; e.Outcome != string(bridge.CodeBadRequest) || count(e) != 0 || !slices.Equal(e.Filters, []string{"until=(invalid)"}) {
		t.Errorf("refused list audited as %+v", e)
	}
	if e := entries[3]; !slices.Equal(e.Filters, []string{"since=(invalid)", "support=(invalid)"}) {
		t.Errorf("planted filter values audited as %+v", e.Filters)
	}
	b, _ := os.ReadFile(auditPath)
	if strings.Contains(string(b), "90122468782") || strings.Contains(string(b), "Specimen") || strings.Contains(string(b), "17073003384") || strings.Contains(string(b), "85073003328") || strings.Contains(string(b), "12060105317") {
		t.Errorf("an SSIN in the audit journal:\n%s", b)
	}
}

// TestListProofsNoJournal: before the first reading there is no journal
// file: the list is empty, not an error.
func TestListProofsNoJournal(t *testing.T) {
	p := &Proofs{Path: filepath.Join(t.TempDir(), "proofs.jsonl")}
	if got := listCallers(t, p, bridge.ProofsListRequest{Caller: bridge.Caller{Origin: "https://a.example"}}); len(got) != 0 {
		t.Errorf("records %q", got)
	}
}

// TestSubmitISICaller: an ISI+ reading's proof names the caller that
// submitted it.
func TestSubmitISICaller(t *testing.T) {
	p := &Proofs{Path: filepath.Join(t.TempDir(), "proofs.jsonl")}
	raw := "85073003328"
	out, err := p.SubmitISI(context.Background(), bridge.ISISubmitRequest{Caller: bridge.Caller{App: "billing"}, Raw: &raw})
	if err != nil {
		t.Fatal(err)
	}
	var res struct{ Proof proof.Record }
	if err := json.Unmarshal(out, &res); err != nil || res.Proof.Caller != "app:billing" {
		t.Errorf("proof %+v, %v", res.Proof, err)
	}
	if got := listCallers(t, p, bridge.ProofsListRequest{Caller: bridge.Caller{App: "billing"}}); !slices.Equal(got, []string{"app:billing"}) {
		t.Errorf("journal callers %q", got)
	}
}
