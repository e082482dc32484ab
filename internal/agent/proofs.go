package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"sync"
	"time"

	"github.com/eid-agent/eid-agent/internal/clock"

	"github.com/eid-agent/eid-agent/bridge"
	"github.com/eid-agent/eid-agent/internal/agent/audit"
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
	pr := res.Proof(clock.Now())
	pr.Caller = req.Caller.String()
	rec, err := p.Append(pr)
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
// oldest first: those made for req.Caller, or with req.All (the bridge
// checked the proofs-all grant) every record, those written before
// records named their caller included. Every list is audited: who, whose
// records, the filters (the SSIN filter by name only) and how many records
// went out.
func (p *Proofs) ListProofs(ctx context.Context, req bridge.ProofsListRequest) (_ json.RawMessage, err error) {
	count := 0
	defer func() { p.auditList(req, count, err) }()
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
	if !req.All {
		q.Caller = req.Caller.String()
	}
	j, err := proof.Open(p.Path, proof.Options{ReadOnly: true})
	if errors.Is(err, fs.ErrNotExist) {
		// Nothing journaled yet: an empty list, not an error.
		return json.RawMessage(`[]`), nil
	}
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
	count = len(recs)
	return json.Marshal(recs)
}

// auditList writes the audit entry and the log line of a proofs.list.
func (p *Proofs) auditList(req bridge.ProofsListRequest, count int, err error) {
	scope := "own"
	if req.All {
		scope = "all"
	}
	var filters []string
	// A filter's value reaches the journal only when it is what the
	// filter takes (a time, a support type): a caller must not plant
	// other text there (a name, a national number).
	valid := func(name, v string) bool {
		if name == "support" {
			_, err := proof.ParseSupportType(v)
			return err == nil
		}
		_, err := time.Parse(time.RFC3339, v)
		return err == nil
	}
	for _, f := range []struct{ name, value string }{{"since", req.Since}, {"until", req.Until}, {"support", req.Support}} {
		switch {
		case f.value == "":
		case valid(f.name, f.value):
			filters = append(filters, f.name+"="+auditValue(f.value))
		default:
			filters = append(filters, f.name+"=(invalid)")
		}
	}
	if req.SSIN != "" {
		filters = append(filters, "ssin") // the number itself is personal data
	}
	if req.Limit > 0 {
		filters = append(filters, fmt.Sprintf("limit=%d", req.Limit))
	}
	outcome := "ok"
	if err != nil {
		outcome = string(bridge.ErrorOf(err).Code)
		count = 0
	}
	p.log().Info("reading proofs listed", "caller", req.Caller.String(), "scope", scope, "count", count, "outcome", outcome)
	if p.Audit == nil {
		return
	}
	e := audit.Entry{Caller: req.Caller.String(), Operation: "proofs.list", Scope: scope, Filters: filters, Count: &count, Outcome: outcome}
	if werr := p.Audit.Write(e); werr != nil {
		p.log().Error("audit journal write failed", "err", werr)
	}
}

// auditValue bounds a caller-chosen filter value for the audit journal
// (the schema caps them at 40 characters; this keeps the journal safe
// whatever reaches it): printable ASCII only, at most 40 characters.
func auditValue(s string) string {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s) && len(out) < 40; i++ {
		if c := s[i]; c >= 0x20 && c < 0x7f {
			out = append(out, c)
		} else {
			out = append(out, '?')
		}
	}
	return string(out)
}
