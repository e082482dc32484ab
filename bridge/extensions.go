package bridge

import (
	"context"
	"encoding/json"
	"slices"
)

// StatusBackend reports what the agent sees, for the status operation
// (`eid-agent status`). No personal data: readers, card kinds, service
// state, versions.
type StatusBackend interface {
	Status(ctx context.Context) (json.RawMessage, error)
}

// SimulatorBackend drives the built-in virtual reader of simulate mode.
type SimulatorBackend interface {
	SimulatorProfiles() []string
	SimulatorInsert(ctx context.Context, profile string) error
	SimulatorRemove(ctx context.Context) error
}

// features lists what this server offers, for hello.
func (s *Server) features() []string {
	f := slices.Clone(features)
	if s.cfg.Status != nil {
		f = append(f, "status")
	}
	if s.cfg.Simulator != nil {
		f = append(f, "simulator")
	}
	if s.cfg.Proofs != nil {
		f = append(f, "isi", "proofs")
	}
	if _, ok := s.cfg.Backend.(AttestBackend); ok {
		f = append(f, "attest")
	}
	if _, ok := s.cfg.Backend.(CounterBackend); ok {
		f = append(f, "counter")
	}
	return f
}

// StatusResult is the answer to status: the backend's report plus the
// bridge's own figures.
type StatusResult struct {
	Agent       json.RawMessage `json:"agent"`
	Connections int64           `json:"connections"`
}

func handleStatus(ctx context.Context, c *conn, req *Request) (any, *Error) {
	if e := noParams(req); e != nil {
		return nil, e
	}
	if c.s.cfg.Status == nil {
		return nil, NewError(CodeUnknownType, "status")
	}
	st, err := c.s.cfg.Status.Status(ctx)
	if err != nil {
		return nil, toError(err)
	}
	return StatusResult{Agent: st, Connections: c.s.slots.count()}, nil
}

type simulatorInsertParams struct {
	Profile string `json:"profile"`
}

func handleSimulatorInsert(ctx context.Context, c *conn, req *Request) (any, *Error) {
	var p simulatorInsertParams
	if e := decodeParams(req.Params, &p); e != nil {
		return nil, e
	}
	sim := c.s.cfg.Simulator
	if sim == nil {
		return nil, NewError(CodeUnknownType, "simulator.insert (the agent is not in simulate mode)")
	}
	if p.Profile == "" {
		p.Profile = "citizen-1.8"
	}
	if !slices.Contains(sim.SimulatorProfiles(), p.Profile) {
		return nil, NewError(CodeBadRequest, "unknown profile "+truncate(p.Profile, 32))
	}
	if err := sim.SimulatorInsert(ctx, p.Profile); err != nil {
		return nil, toError(err)
	}
	return map[string]string{"profile": p.Profile}, nil
}

func handleSimulatorRemove(ctx context.Context, c *conn, req *Request) (any, *Error) {
	if e := noParams(req); e != nil {
		return nil, e
	}
	sim := c.s.cfg.Simulator
	if sim == nil {
		return nil, NewError(CodeUnknownType, "simulator.remove (the agent is not in simulate mode)")
	}
	if err := sim.SimulatorRemove(ctx); err != nil {
		return nil, toError(err)
	}
	return map[string]bool{"removed": true}, nil
}

// ProofsBackend takes ISI+ readings and lists the reading-proof journal
// (docs/isi-and-proofs.md). Both need the same consent as reading the
// identity: they carry an SSIN. ListProofs returns only the records made
// for req.Caller, unless req.All, for which the bridge asked consent for
// "proofs-all"; it audits every list.
type ProofsBackend interface {
	SubmitISI(ctx context.Context, req ISISubmitRequest) (json.RawMessage, error)
	ListProofs(ctx context.Context, req ProofsListRequest) (json.RawMessage, error)
}

// ISISubmitRequest is a scan (Raw, as the scanner typed it) or a typed
// entry (Manual); exactly one.
type ISISubmitRequest struct {
	Caller Caller          `json:"-"`
	Raw    *string         `json:"raw,omitempty"`
	QR     bool            `json:"qr,omitempty"` // the scanner sends no AIM prefix but read a QR code
	Manual *ISIManualEntry `json:"manual,omitempty"`
}

// ISIManualEntry is what the operator typed from the card.
type ISIManualEntry struct {
	SSIN       string `json:"ssin"`
	Reason     string `json:"reason"`
	CardNumber string `json:"cardNumber,omitempty"`
	LastName   string `json:"lastName,omitempty"`
	FirstName  string `json:"firstName,omitempty"`
	BirthDate  string `json:"birthDate,omitempty"`
}

// ProofsListRequest selects journal records.
type ProofsListRequest struct {
	Caller  Caller `json:"-"`
	Since   string `json:"since,omitempty"` // RFC 3339
	Until   string `json:"until,omitempty"`
	SSIN    string `json:"ssin,omitempty"`
	Support string `json:"support,omitempty"`
	Limit   int    `json:"limit,omitempty"` // newest N, default 100, at most 1000
	// All asks for every caller's records, not only the caller's own; it
	// needs the "proofs-all" permission, which only an administrator grants.
	All bool `json:"all,omitempty"`
}

func handleISISubmit(ctx context.Context, c *conn, req *Request) (any, *Error) {
	var p ISISubmitRequest
	if e := decodeParams(req.Params, &p); e != nil {
		return nil, e
	}
	pb := c.s.cfg.Proofs
	if pb == nil {
		return nil, NewError(CodeUnknownType, "isi.submit")
	}
	if (p.Raw == nil) == (p.Manual == nil) {
		return nil, NewError(CodeBadRequest, `give either "raw" (a scan) or "manual" (a typed entry)`)
	}
	if e := c.consent(ctx, Operation{Kind: "read", Fields: []string{"identity"}}); e != nil {
		return nil, e
	}
	p.Caller = c.caller
	res, err := pb.SubmitISI(ctx, p)
	if err != nil {
		return nil, toError(err)
	}
	return map[string]json.RawMessage{"reading": res}, nil
}

func handleProofsList(ctx context.Context, c *conn, req *Request) (any, *Error) {
	var p ProofsListRequest
	if e := decodeParams(req.Params, &p); e != nil {
		return nil, e
	}
	pb := c.s.cfg.Proofs
	if pb == nil {
		return nil, NewError(CodeUnknownType, "proofs.list")
	}
	if p.Limit < 0 || p.Limit > 1000 {
		return nil, NewError(CodeBadRequest, "limit is 1 to 1000")
	}
	if p.Limit == 0 {
		p.Limit = 100
	}
	// Every caller's records is a grant of its own, asked first and never
	// by dialog: a page with all:true and no such grant raises no dialog.
	// A record carries what a reading proof carries (the card's serial
	// number, chip number, dates and the SSIN): listing needs the same
	// consent as reading-proof, card and identity both.
	op := Operation{Kind: "read", Fields: slices.Clone(proofFields)} // a copy: Consent is outside the package
	if p.All {
		op = Operation{Kind: "proofs-all"}
	}
	if e := c.consent(ctx, op); e != nil {
		return nil, e
	}
	p.Caller = c.caller
	res, err := pb.ListProofs(ctx, p)
	if err != nil {
		return nil, toError(err)
	}
	return map[string]json.RawMessage{"proofs": res}, nil
}
