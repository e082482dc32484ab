package bridge

import (
	"context"
	"encoding/json"
	"sync"

	"github.com/eid-agent/eid-agent/bridge/webeid"
	"github.com/eid-agent/eid-agent/card/eidfile"
)

// CounterBackend serves counter mode (docs/protocol.md, "Counter mode"):
// an application the administrator paired with the agent gets the card
// read once on insertion and pushed to it, with no request per card. The
// agent's Counter implements it; only its policy turns it on for a caller.
type CounterBackend interface {
	// CounterJoin registers a connection of caller. It fails with
	// ErrConsentDenied (CONSENT_DENIED) when no policy pairs the caller.
	// push delivers this connection's events in order (card-read,
	// card-removed, card-revocation); the session ends with ctx.
	CounterJoin(ctx context.Context, caller Caller, push func(event string, data any)) (CounterSession, *CounterPairing, error)
}

// CounterSession is one joined connection.
type CounterSession interface {
	// Start begins delivery (the card in a reader now, if any, first);
	// the bridge calls it once its answer to counter is sent, so the
	// answer comes before any event.
	Start()
	// SetNonce stands nonce for the next card-read's attestation (the
	// current card's, when it is held and its card-read is still due).
	SetNonce(nonce string) error
}

// CounterPairing is what the policy gives the caller.
type CounterPairing struct {
	Fields      []string `json:"fields"`
	Attestation bool     `json:"attestation"` // card-read carries an attestation, made with the standing nonce
	Revocation  bool     `json:"revocation"`  // card-revocation follows each card-read
}

// CounterParams are the counter request's.
type CounterParams struct {
	// Nonce, when set, is the server's nonce for the next card-read's
	// attestation: each card-read uses up the nonce standing at the time.
	Nonce string `json:"nonce,omitempty"`
}

// CardRead is the card-read event: exactly the pairing's fields of the
// card just inserted, and its attestation when the pairing wants one.
type CardRead struct {
	Reader  string                     `json:"reader"`
	Reading map[string]json.RawMessage `json:"reading"`
	// Attestation for the standing nonce (pairings with attestation).
	Attestation *eidfile.Attestation `json:"attestation,omitempty"`
	// AttestationError says why there is none when one was due (for
	// example RATE_LIMITED); the reading is still there.
	AttestationError *Error `json:"attestationError,omitempty"`
}

// CardRevocation is the card-revocation event: the status of the card's
// authentication certificate, checked after the card-read was pushed.
type CardRevocation struct {
	Reader string `json:"reader"`
	// Status: good, revoked, unknown, unavailable or none (no
	// certificate to check, as on a Kids-ID).
	Status string `json:"status"`
	Detail string `json:"detail,omitempty"`
}

// counterSessions maps each connection in counter mode to its session.
// Kept here rather than in conn: only counter connections have one.
var counterSessions sync.Map // *conn -> *counterConn

type counterConn struct {
	s       CounterSession
	pairing *CounterPairing
}

func handleCounter(ctx context.Context, c *conn, req *Request) (any, *Error) {
	var p CounterParams
	if e := decodeParams(req.Params, &p); e != nil {
		return nil, e
	}
	cb, ok := c.s.cfg.Backend.(CounterBackend)
	if !ok {
		return nil, NewError(CodeUnknownType, "counter")
	}
	if p.Nonce != "" {
		if err := webeid.ValidateNonce(p.Nonce); err != nil {
			return nil, NewError(CodeBadRequest, err.Error())
		}
	}
	c.subMu.Lock()
	defer c.subMu.Unlock()
	if v, ok := counterSessions.Load(c); ok {
		cc := v.(*counterConn)
		if p.Nonce != "" {
			if err := cc.s.SetNonce(p.Nonce); err != nil {
				return nil, toError(err)
			}
		}
		return cc.pairing, nil
	}
	push := func(event string, data any) {
		if event == string(EventCardRemoved) {
			// A subscribed connection has its card-removed from the
			// subscription (sent after the counter dropped the data).
			c.subMu.Lock()
			sub := c.subscribed
			c.subMu.Unlock()
			if sub {
				return
			}
		}
		c.event(event, data)
	}
	s, pairing, err := cb.CounterJoin(c.ctx, c.caller, push)
	if err != nil {
		return nil, toError(err)
	}
	counterSessions.Store(c, &counterConn{s, pairing})
	context.AfterFunc(c.ctx, func() { counterSessions.Delete(c) })
	if p.Nonce != "" {
		if err := s.SetNonce(p.Nonce); err != nil {
			return nil, toError(err)
		}
	}
	// The answer first, then the events.
	c.reply(req.ID, pairing, nil)
	s.Start()
	return alreadyReplied{}, nil
}
