package bridge

import (
	"context"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"unicode"

	"github.com/eid-agent/eid-agent/bridge/webeid"
)

type handler func(ctx context.Context, c *conn, req *Request) (any, *Error)

// handlers is every request type the dispatcher knows, in one place;
// hello is handled by the read loop itself. The optional ones answer
// UNKNOWN_TYPE when the server's configuration lacks their backend, and
// hello's features (Server.features) leave them out.
var handlers = map[string]handler{
	"readers":             handleReaders,
	"subscribe":           handleSubscribe,
	"read":                handleRead,
	"authenticate":        handleAuthenticate,
	"signing-certificate": handleSigningCertificate,
	"sign":                handleSign,
	"reading-proof":       handleReadingProof,

	// extensions.go
	"status":           handleStatus,
	"simulator.insert": handleSimulatorInsert,
	"simulator.remove": handleSimulatorRemove,
	"isi.submit":       handleISISubmit,
	"proofs.list":      handleProofsList,
	// attest.go
	"attest": handleAttest,
	// counter.go
	"counter": handleCounter,
}

// Features reported by hello.
var features = []string{"readers", "events", "read", "authenticate", "sign", "reading-proof"}

// readFields are the Reading JSON members a caller may name in "read",
// plus "bundle": the raw signed files, for a server to verify them itself
// (docs/verify.md).
var readFields = []string{"card", "identity", "address", "photo", "photoSha256", "certificates", "integrity", "bundle"}

// ReadersResult is the answer to readers.
type ReadersResult struct {
	Readers []ReaderInfo `json:"readers"`
}

type helloParams struct {
	Protocol int `json:"protocol"`
}

// HelloResult is the answer to hello.
type HelloResult struct {
	Server    string   `json:"server"`
	Version   string   `json:"version"`
	Protocol  int      `json:"protocol"`
	Protocols []int    `json:"protocols"`
	Features  []string `json:"features"`
	// Origin is what the agent will sign for this connection, so a page
	// can see it is the one it expects.
	Origin string `json:"origin,omitempty"`
}

func (c *conn) hello(req *Request) (any, *Error) {
	var p helloParams
	if e := decodeParams(req.Params, &p); e != nil {
		return nil, e
	}
	if p.Protocol != ProtocolVersion {
		return nil, NewError(CodeUnsupportedVersion, "this agent speaks protocol 1")
	}
	v := c.s.cfg.Version
	if v == "" {
		v = "0.0.0-dev"
	}
	return HelloResult{Server: "eid-agent", Version: v, Protocol: ProtocolVersion,
		Protocols: []int{ProtocolVersion}, Features: c.s.features(), Origin: c.caller.Origin}, nil
}

func noParams(req *Request) *Error {
	var p struct{}
	return decodeParams(req.Params, &p)
}

func handleReaders(ctx context.Context, c *conn, req *Request) (any, *Error) {
	if e := noParams(req); e != nil {
		return nil, e
	}
	rs, err := c.s.cfg.Backend.Readers(ctx)
	if err != nil {
		return nil, toError(err)
	}
	if rs == nil {
		rs = []ReaderInfo{}
	}
	return ReadersResult{Readers: rs}, nil
}

// handleSubscribe starts forwarding card events to this connection; a
// second subscribe is a no-op. Events stop with the connection.
func handleSubscribe(ctx context.Context, c *conn, req *Request) (any, *Error) {
	if e := noParams(req); e != nil {
		return nil, e
	}
	c.subMu.Lock()
	defer c.subMu.Unlock()
	if c.subscribed {
		return map[string]bool{"subscribed": true}, nil
	}
	ch, err := c.s.cfg.Backend.Subscribe(c.ctx)
	if err != nil {
		return nil, toError(err)
	}
	c.subscribed = true
	// The reply goes out before the first event, so a client sees
	// "subscribed" first.
	c.reply(req.ID, map[string]bool{"subscribed": true}, nil)
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		for {
			select {
			case ev, ok := <-ch:
				if !ok {
					return
				}
				c.event(string(ev.Type), ev)
			case <-c.ctx.Done():
				return
			}
		}
	}()
	return alreadyReplied{}, nil
}

// alreadyReplied tells the dispatcher that the handler sent its own reply.
type alreadyReplied struct{}

func (c *conn) consent(ctx context.Context, op Operation) *Error {
	if c.s.cfg.Consent == nil {
		return NewError(CodeConsentDenied, "")
	}
	if err := c.s.cfg.Consent.Allow(ctx, c.caller, op); err != nil {
		return toError(err)
	}
	return nil
}

func checkFields(fields []string) *Error {
	if len(fields) == 0 {
		return NewError(CodeBadRequest, `"fields" must name at least one field`)
	}
	for _, f := range fields {
		if !slices.Contains(readFields, f) {
			return NewError(CodeBadRequest, "unknown field "+truncate(f, 32))
		}
	}
	return nil
}

// maxReaderName bounds a reader name a caller may give: pcsc-lite's
// MAX_READERNAME is 128 bytes, Windows names are shorter than 256.
const maxReaderName = 255

// checkReader refuses a reader name no reader can have (too long, control
// or formatting characters) before it reaches the backend, the logs or the
// audit journal, which it would otherwise fill or forge lines in.
func checkReader(name string) *Error {
	if len(name) > maxReaderName {
		return NewError(CodeBadRequest, fmt.Sprintf(`"reader" is longer than %d bytes`, maxReaderName))
	}
	for _, c := range name {
		if unicode.IsControl(c) || unicode.Is(unicode.Cf, c) {
			return NewError(CodeBadRequest, `"reader" holds a control character`)
		}
	}
	return nil
}

func handleRead(ctx context.Context, c *conn, req *Request) (any, *Error) {
	var p ReadRequest
	if e := decodeParams(req.Params, &p); e != nil {
		return nil, e
	}
	if e := checkReader(p.Reader); e != nil {
		return nil, e
	}
	if e := checkFields(p.Fields); e != nil {
		return nil, e
	}
	p.Fields = slices.Compact(slices.Sorted(slices.Values(p.Fields)))
	if e := c.consent(ctx, Operation{Kind: "read", Fields: p.Fields}); e != nil {
		return nil, e
	}
	p.Caller = c.caller
	got, err := c.s.cfg.Backend.Read(ctx, p)
	if err != nil {
		return nil, toError(err)
	}
	// Only what was asked for leaves the agent, whatever the backend did.
	out := make(map[string]json.RawMessage, len(p.Fields))
	for _, f := range p.Fields {
		if v, ok := got[f]; ok {
			out[f] = v
		}
	}
	return map[string]any{"reading": out}, nil
}

func handleAuthenticate(ctx context.Context, c *conn, req *Request) (any, *Error) {
	var p AuthenticateRequest
	if e := decodeParams(req.Params, &p); e != nil {
		return nil, e
	}
	if e := checkReader(p.Reader); e != nil {
		return nil, e
	}
	if c.caller.Origin == "" {
		// A Web eID token binds a web origin; desktop apps have none.
		return nil, NewError(CodeBadRequest, "authenticate needs a web origin")
	}
	if err := webeid.ValidateNonce(p.Nonce); err != nil {
		return nil, NewError(CodeBadRequest, err.Error())
	}
	if e := c.consent(ctx, Operation{Kind: "authenticate"}); e != nil {
		return nil, e
	}
	p.Caller, p.Origin = c.caller, c.caller.Origin
	tok, err := c.s.cfg.Backend.Authenticate(ctx, p)
	if err != nil {
		return nil, toError(err)
	}
	return tok, nil
}

func handleSigningCertificate(ctx context.Context, c *conn, req *Request) (any, *Error) {
	var p SigningCertificateRequest
	if e := decodeParams(req.Params, &p); e != nil {
		return nil, e
	}
	if e := checkReader(p.Reader); e != nil {
		return nil, e
	}
	if e := c.consent(ctx, Operation{Kind: "sign"}); e != nil {
		return nil, e
	}
	p.Caller = c.caller
	res, err := c.s.cfg.Backend.SigningCertificate(ctx, p)
	if err != nil {
		return nil, toError(err)
	}
	return res, nil
}

// hashFunctions maps the protocol's hash names to Go hashes.
var hashFunctions = map[string]crypto.Hash{
	"SHA-224": crypto.SHA224, "SHA-256": crypto.SHA256, "SHA-384": crypto.SHA384, "SHA-512": crypto.SHA512,
	"SHA3-224": crypto.SHA3_224, "SHA3-256": crypto.SHA3_256, "SHA3-384": crypto.SHA3_384, "SHA3-512": crypto.SHA3_512,
}

func handleSign(ctx context.Context, c *conn, req *Request) (any, *Error) {
	var p SignRequest
	if e := decodeParams(req.Params, &p); e != nil {
		return nil, e
	}
	if e := checkReader(p.Reader); e != nil {
		return nil, e
	}
	h, ok := hashFunctions[p.HashFunction]
	if !ok {
		return nil, NewError(CodeBadRequest, "unknown hashFunction")
	}
	b, err := base64.StdEncoding.DecodeString(p.Hash)
	if err != nil || len(b) != h.Size() {
		return nil, NewError(CodeBadRequest, "hash is not base64 of the hash function's length")
	}
	if _, err := base64.StdEncoding.DecodeString(p.Certificate); err != nil || p.Certificate == "" {
		return nil, NewError(CodeBadRequest, "certificate is not base64")
	}
	if e := c.consent(ctx, Operation{Kind: "sign"}); e != nil {
		return nil, e
	}
	p.Caller, p.HashBytes = c.caller, b
	res, err := c.s.cfg.Backend.Sign(ctx, p)
	if err != nil {
		return nil, toError(err)
	}
	return res, nil
}

func handleReadingProof(ctx context.Context, c *conn, req *Request) (any, *Error) {
	var p ReadingProofRequest
	if e := decodeParams(req.Params, &p); e != nil {
		return nil, e
	}
	if e := checkReader(p.Reader); e != nil {
		return nil, e
	}
	if c.caller.Origin == "" {
		return nil, NewError(CodeBadRequest, "reading-proof needs a web origin")
	}
	if err := webeid.ValidateNonce(p.Nonce); err != nil {
		return nil, NewError(CodeBadRequest, err.Error())
	}
	if e := checkFields(p.Fields); e != nil {
		return nil, e
	}
	// The proof itself carries the card's number and dates and the
	// national number: consent covers them, whatever fields were asked.
	if e := c.consent(ctx, Operation{Kind: "reading-proof", Fields: ReadingProofFields(p.Fields)}); e != nil {
		return nil, e
	}
	p.Caller, p.Origin = c.caller, c.caller.Origin
	res, err := c.s.cfg.Backend.ReadingProof(ctx, p)
	if err != nil {
		return nil, toError(err)
	}
	out := &ReadingProofResult{Proof: res.Proof, Origin: p.Origin, Nonce: p.Nonce, Reading: map[string]json.RawMessage{}}
	for _, f := range p.Fields {
		if v, ok := res.Reading[f]; ok {
			out.Reading[f] = v
		}
	}
	return out, nil
}
