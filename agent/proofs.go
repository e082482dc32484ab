package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/eid-agent/eid-agent/internal/clock"

	"github.com/eid-agent/eid-agent/agent/audit"
	"github.com/eid-agent/eid-agent/bridge"
	"github.com/eid-agent/eid-agent/isi"
	"github.com/eid-agent/eid-agent/proof"
)

// Proofs is the agent's side of the reading-proof journal: it appends the
// proof of every reading made through the bridge (eID reading-proof, ISI+
// isi.submit) and answers proofs.list. It implements
// bridge.ProofsBackend.
//
// The journal is opened for each append and closed again, so the CLI
// (`eid-agent isi`, `read --proof`) can write to the same journal while
// the agent runs: the journal's lock is held for one record at a time.
type Proofs struct {
	Path      string
	Retention time.Duration // 0 keeps everything
	Audit     *audit.Log
	Log       *slog.Logger

	mu sync.Mutex
}

var _ bridge.ProofsBackend = (*Proofs)(nil)

// lockWait bounds how long an append waits for another writer (the CLI)
// to finish its record.
const lockWait = 3 * time.Second

// Append validates rec, assigns its id and appends it.
func (p *Proofs) Append(rec proof.Record) (proof.Record, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	deadline := time.Now().Add(lockWait)
	for {
		j, err := proof.Open(p.Path, proof.Options{Retention: p.Retention})
		if errors.Is(err, proof.ErrLocked) && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
			continue
		}
		if err != nil {
			return rec, err
		}
		out, err := j.Append(rec)
		if cerr := j.Close(); err == nil {
			err = cerr
		}
		return out, err
	}
}

// Prune drops records older than Retention (at start and daily).
func (p *Proofs) Prune(now time.Time) (int, error) {
	if p.Retention <= 0 {
		return 0, nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	j, err := proof.Open(p.Path, proof.Options{Retention: p.Retention})
	if err != nil {
		return 0, err
	}
	defer j.Close()
	return j.Prune(now)
}

// SubmitISI validates an ISI+ scan or typed entry, journals its proof and
// returns the reading with the proof, as `eid-agent isi --json` prints it.
func (p *Proofs) SubmitISI(ctx context.Context, req bridge.ISISubmitRequest) (json.RawMessage, error) {
	var res *isi.Result
	var err error
	if req.Raw != nil {
		res, err = isi.ParseScan(*req.Raw)
		if err == nil && req.QR && res.Input == proof.InputBarcode {
			res.Input = proof.InputQR
		}
	} else {
		m := req.Manual
		res, err = isi.Manual(isi.Entry{SSIN: m.SSIN, Reason: proof.ManualReason(m.Reason), CardNumber: m.CardNumber,
			LastName: m.LastName, FirstName: m.FirstName, BirthDate: m.BirthDate})
	}
	outcome := "ok"
	defer func() { p.audit(req.Caller, res, outcome) }()
	if err != nil {
		outcome = string(bridge.CodeBadRequest)
		// The errors of isi never quote the scan or the number: safe to
		// return to the page.
		return nil, bridge.NewError(bridge.CodeBadRequest, err.Error())
	}
	rec, err := p.Append(res.Proof(clock.Now()))
	if err != nil {
		outcome = string(bridge.CodeInternal)
		p.log().Error("reading-proof journal", "err", err)
		return nil, err
	}
	return res.MarshalWithProof(&rec)
}

func (p *Proofs) audit(caller bridge.Caller, res *isi.Result, outcome string) {
	if p.Audit == nil {
		return
	}
	e := audit.Entry{Caller: caller.String(), Operation: "isi", Outcome: outcome}
	if res != nil {
		e.Card = p.Audit.CardHash(res.CardNumber)
	}
	if err := p.Audit.Write(e); err != nil {
		p.log().Error("audit journal write failed", "err", err)
	}
}

func (p *Proofs) log() *slog.Logger {
	if p.Log != nil {
		return p.Log
	}
	return slog.New(slog.DiscardHandler)
}

// ListProofs returns the newest req.Limit records matching the query,
// oldest first.
func (p *Proofs) ListProofs(ctx context.Context, req bridge.ProofsListRequest) (json.RawMessage, error) {
	var q proof.Query
	for _, t := range []struct {
		s   string
		dst *time.Time
	}{{req.Since, &q.Since}, {req.Until, &q.Until}} {
		if t.s == "" {
			continue
		}
		v, err := time.Parse(time.RFC3339, t.s)
		if err != nil {
			return nil, bridge.NewError(bridge.CodeBadRequest, fmt.Sprintf("%q is not an RFC 3339 time", t.s))
		}
		*t.dst = v
	}
	q.SSIN = req.SSIN
	if req.Support != "" {
		st, err := proof.ParseSupportType(req.Support)
		if err != nil {
			return nil, bridge.NewError(bridge.CodeBadRequest, err.Error())
		}
		q.Support = st
	}
	j, err := proof.Open(p.Path, proof.Options{ReadOnly: true})
	if err != nil {
		return nil, err
	}
	defer j.Close()
	recs, err := j.Query(q)
	if err != nil {
		return nil, err
	}
	if len(recs) > req.Limit && req.Limit > 0 {
		recs = recs[len(recs)-req.Limit:]
	}
	if recs == nil {
		recs = []proof.Record{}
	}
	return json.Marshal(recs)
}
