package agent

import (
	"github.com/eid-agent/eid-agent/bridge"
	"github.com/eid-agent/eid-agent/card"
)

// The card layer and the protocol name the same things with the same
// strings, but they are separate types (bridge knows nothing of PC/SC):
// these functions are the one place where one becomes the other.

// cardKind is the protocol's name for what a reader holds.
func cardKind(k card.Kind) bridge.CardKind {
	switch k {
	case card.KindNone:
		return bridge.CardNone
	case card.KindBELPIC:
		return bridge.CardBELPIC
	}
	return bridge.CardUnknown
}

// eventType is the protocol's event for a card-layer event; false for one
// that clients are not sent (synced).
func eventType(t card.EventType) (bridge.CardEventType, bool) {
	switch t {
	case card.EventReaderAdded:
		return bridge.EventReaderAdded, true
	case card.EventReaderRemoved:
		return bridge.EventReaderRemoved, true
	case card.EventCardInserted:
		return bridge.EventCardInserted, true
	case card.EventCardRemoved:
		return bridge.EventCardRemoved, true
	case card.EventServiceDown:
		return bridge.EventServiceDown, true
	case card.EventServiceUp:
		return bridge.EventServiceUp, true
	}
	return "", false
}
