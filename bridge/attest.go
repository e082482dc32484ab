package bridge

import (
	"context"
	"slices"

	"github.com/eid-agent/eid-agent/bridge/webeid"
	"github.com/eid-agent/eid-agent/card/eidfile"
)

// AttestBackend makes presence attestations (eid-attestation:1,
// docs/protocol.md "attest"); the agent's Backend implements it. A
// backend without it leaves "attest" out of hello's features.
type AttestBackend interface {
	Attest(ctx context.Context, req AttestRequest) (*eidfile.Attestation, error)
}

// attestFields are the fields an attestation may release: the signed
// files behind them go to the server. identity is always among them: the
// identity file is what the address, photo and basic key are checked
// against.
var attestFields = []string{"identity", "address", "photo"}

// AttestRequest asks for an attestation of Fields bound to Origin (the
// handshake's, or "app:NAME" for a desktop application; never a
// parameter) and the server's Nonce.
type AttestRequest struct {
	Caller Caller   `json:"-"`
	Origin string   `json:"-"`
	Reader string   `json:"reader,omitempty"`
	Nonce  string   `json:"nonce"`
	Fields []string `json:"fields"`
	// WithAuthentication adds the authentication key's signature over the
	// same challenge (PIN).
	WithAuthentication bool `json:"withAuthentication,omitempty"`
}

// AttestResult is the answer to attest.
type AttestResult struct {
	Attestation *eidfile.Attestation `json:"attestation"`
}

func handleAttest(ctx context.Context, c *conn, req *Request) (any, *Error) {
	var p AttestRequest
	if e := decodeParams(req.Params, &p); e != nil {
		return nil, e
	}
	ab, ok := c.s.cfg.Backend.(AttestBackend)
	if !ok {
		return nil, NewError(CodeUnknownType, "attest")
	}
	if err := webeid.ValidateNonce(p.Nonce); err != nil {
		return nil, NewError(CodeBadRequest, err.Error())
	}
	if len(p.Fields) == 0 {
		return nil, NewError(CodeBadRequest, `"fields" must name at least identity`)
	}
	for _, f := range p.Fields {
		if !slices.Contains(attestFields, f) {
			return nil, NewError(CodeBadRequest, "attest releases identity, address and photo; not "+truncate(f, 32))
		}
	}
	p.Fields = slices.Compact(slices.Sorted(slices.Values(p.Fields)))
	if !slices.Contains(p.Fields, "identity") {
		return nil, NewError(CodeBadRequest, `"fields" must include identity: the identity file is what the rest is checked against`)
	}
	// Consent before anything touches the card: the same as reading the
	// fields, and authenticating when the PIN-protected key signs too.
	if e := c.consent(ctx, Operation{Kind: "read", Fields: p.Fields}); e != nil {
		return nil, e
	}
	if p.WithAuthentication {
		if e := c.consent(ctx, Operation{Kind: "authenticate"}); e != nil {
			return nil, e
		}
	}
	p.Caller, p.Origin = c.caller, c.caller.String()
	att, err := ab.Attest(ctx, p)
	if err != nil {
		return nil, toError(err)
	}
	return AttestResult{Attestation: att}, nil
}
