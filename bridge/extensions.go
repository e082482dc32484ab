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

func init() {
	handlers["status"] = handleStatus
	handlers["simulator.insert"] = handleSimulatorInsert
	handlers["simulator.remove"] = handleSimulatorRemove
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
	return StatusResult{Agent: st, Connections: c.s.conns.Load()}, nil
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
