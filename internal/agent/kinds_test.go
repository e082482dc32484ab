package agent

import (
	"testing"

	"github.com/eid-agent/eid-agent/bridge"
	"github.com/eid-agent/eid-agent/card"
)

// The protocol's names are the card layer's strings: what clients receive
// did not change when the two got types of their own.
func TestEventTypeMapping(t *testing.T) {
	for _, tc := range []struct {
		in   card.EventType
		want bridge.CardEventType
		ok   bool
	}{
		{card.EventReaderAdded, bridge.EventReaderAdded, true},
		{card.EventReaderRemoved, bridge.EventReaderRemoved, true},
		{card.EventCardInserted, bridge.EventCardInserted, true},
		{card.EventCardRemoved, bridge.EventCardRemoved, true},
		{card.EventServiceDown, bridge.EventServiceDown, true},
		{card.EventServiceUp, bridge.EventServiceUp, true},
		{card.EventSynced, "", false}, // internal to the agent
		{"made-up", "", false},
	} {
		got, ok := eventType(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("eventType(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
		if ok && string(got) != string(tc.in) {
			t.Errorf("%q goes out as %q", tc.in, got)
		}
	}
}

func TestCardKindMapping(t *testing.T) {
	for _, tc := range []struct {
		in   card.Kind
		want bridge.CardKind
	}{
		{card.KindNone, bridge.CardNone},
		{card.KindBELPIC, bridge.CardBELPIC},
		{card.KindUnknown, bridge.CardUnknown},
		{"", bridge.CardUnknown},
	} {
		if got := cardKind(tc.in); got != tc.want {
			t.Errorf("cardKind(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if tc.in != "" && string(tc.in) != string(tc.want) {
			t.Errorf("%q goes out as %q", tc.in, tc.want)
		}
	}
}
