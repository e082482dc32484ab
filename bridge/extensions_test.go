package bridge_test

import (
	"context"
	"encoding/json"
	"slices"
	"sync"
	"testing"

	"github.com/eid-agent/eid-agent/bridge"
	"github.com/eid-agent/eid-agent/bridge/client"
)

type fakeStatus struct{}

func (fakeStatus) Status(context.Context) (json.RawMessage, error) {
	return json.RawMessage(`{"version":"0.1.0","pid":42,"startedAt":"2026-11-29T10:00:00Z","simulate":true,"service":"up","serviceSince":"2026-11-29T10:00:00Z","readers":[{"name":"R","card":"belpic","since":"2026-11-29T10:00:01Z"}],"subscribers":0}`), nil
}

type fakeSim struct {
	mu     sync.Mutex
	card   string
	called []string
}

func (s *fakeSim) SimulatorProfiles() []string { return []string{"citizen-1.8", "kids-1.8"} }
func (s *fakeSim) SimulatorInsert(_ context.Context, p string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.card = p
	s.called = append(s.called, "insert "+p)
	return nil
}
func (s *fakeSim) SimulatorRemove(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.card = ""
	s.called = append(s.called, "remove")
	return nil
}

func TestExtensionsOff(t *testing.T) {
	ts := start(t, nil)
	c := dial(t, ts, client.Auth{Origin: goodOrigin})
	h, err := c.Hello(ctx5(t))
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(h.Features, "status") || slices.Contains(h.Features, "simulator") {
		t.Errorf("features %v without the extensions", h.Features)
	}
	for _, typ := range []string{"status", "simulator.insert", "simulator.remove"} {
		wantCode(t, c.Call(ctx5(t), typ, nil, nil), bridge.CodeUnknownType)
	}
}

func TestStatusAndSimulator(t *testing.T) {
	sim := &fakeSim{}
	ts := start(t, func(c *bridge.Config) { c.Status, c.Simulator = fakeStatus{}, sim })
	c := dial(t, ts, client.Auth{Origin: goodOrigin})
	h, err := c.Hello(ctx5(t))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(h.Features, "status") || !slices.Contains(h.Features, "simulator") {
		t.Errorf("features %v", h.Features)
	}
	var st bridge.StatusResult
	if err := c.Call(ctx5(t), "status", nil, &st); err != nil {
		t.Fatal(err)
	}
	if st.Connections != 1 || len(st.Agent) == 0 {
		t.Errorf("status %+v", st)
	}
	var ins struct{ Profile string }
	if err := c.Call(ctx5(t), "simulator.insert", map[string]string{"profile": "kids-1.8"}, &ins); err != nil || ins.Profile != "kids-1.8" {
		t.Fatalf("insert: %v %+v", err, ins)
	}
	wantCode(t, c.Call(ctx5(t), "simulator.insert", map[string]string{"profile": "../../etc/passwd"}, nil), bridge.CodeBadRequest)
	if err := c.Call(ctx5(t), "simulator.remove", nil, nil); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(sim.called, []string{"insert kids-1.8", "remove"}) {
		t.Errorf("simulator saw %v", sim.called)
	}
}

type fakeProofs struct {
	mu     sync.Mutex
	got    []bridge.ISISubmitRequest
	listed []bridge.ProofsListRequest
}

func (f *fakeProofs) SubmitISI(_ context.Context, r bridge.ISISubmitRequest) (json.RawMessage, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.got = append(f.got, r)
	return json.RawMessage(`{"ssin":"85073003328"}`), nil
}
func (f *fakeProofs) ListProofs(_ context.Context, r bridge.ProofsListRequest) (json.RawMessage, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.listed = append(f.listed, r)
	return json.RawMessage(`[]`), nil
}

// recordingConsent is a MemoryConsent that remembers what it was asked.
type recordingConsent struct {
	*bridge.MemoryConsent
	mu    sync.Mutex
	asked []bridge.Operation
}

func (r *recordingConsent) Allow(ctx context.Context, c bridge.Caller, op bridge.Operation) error {
	r.mu.Lock()
	r.asked = append(r.asked, op)
	r.mu.Unlock()
	return r.MemoryConsent.Allow(ctx, c, op)
}

func (r *recordingConsent) last() bridge.Operation {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.asked[len(r.asked)-1]
}

// TestReadingProofConsent: a reading proof carries the card's data and
// the national number whatever fields were asked, so consent is asked
// for all of it: an origin granted only "card" does not get the SSIN
// through reading-proof.
func TestReadingProofConsent(t *testing.T) {
	const cardOnly = "https://other.example"
	rc := &recordingConsent{MemoryConsent: bridge.NewMemoryConsent(map[string]bridge.Grant{
		cardOnly: {Fields: []string{"card"}}, goodOrigin: {Fields: []string{"card", "identity"}}})}
	ts := start(t, func(c *bridge.Config) { c.Consent = rc })
	c := dial(t, ts, client.Auth{Origin: cardOnly})
	wantCode(t, c.Call(ctx5(t), "reading-proof", map[string]any{"nonce": nonce, "fields": []string{"card"}}, nil), bridge.CodeConsentDenied)
	if op := rc.last(); op.Kind != "reading-proof" || !slices.Equal(op.Fields, []string{"card", "identity"}) {
		t.Errorf("consent asked for %+v", op)
	}
	// A plain read of the card is still allowed.
	if err := c.Call(ctx5(t), "read", map[string]any{"fields": []string{"card"}}, nil); err != nil {
		t.Errorf("read card: %v", err)
	}
	good := dial(t, ts, client.Auth{Origin: goodOrigin})
	var p bridge.ReadingProofResult
	if err := good.Call(ctx5(t), "reading-proof", map[string]any{"nonce": nonce, "fields": []string{"card"}}, &p); err != nil || len(p.Proof) == 0 {
		t.Fatalf("with card and identity granted: %v", err)
	}
	// The proof is released, the identity member was not asked for.
	if _, ok := p.Reading["identity"]; ok {
		t.Errorf("reading %v", p.Reading)
	}
	wantCode(t, good.Call(ctx5(t), "reading-proof", map[string]any{"nonce": nonce, "fields": []string{"photo"}}, nil), bridge.CodeConsentDenied)
	if op := rc.last(); !slices.Equal(op.Fields, []string{"card", "identity", "photo"}) {
		t.Errorf("consent asked for %+v", op)
	}
}

// TestProofsListScope: proofs.list asks the backend for the caller's own
// records; all:true needs the proofs-all grant, is asked first and
// reaches the backend only when granted.
func TestProofsListScope(t *testing.T) {
	const admin = "https://other.example"
	const identityOnly = "https://third.example"
	fp := &fakeProofs{}
	rc := &recordingConsent{MemoryConsent: bridge.NewMemoryConsent(map[string]bridge.Grant{
		goodOrigin: {Fields: []string{"card", "identity"}}, admin: {AllProofs: true},
		identityOnly: {Fields: []string{"identity"}}})}
	ts := start(t, func(c *bridge.Config) {
		c.Proofs, c.Consent = fp, rc
		c.AllowedOrigins = append(c.AllowedOrigins, identityOnly)
	})
	// A record carries the card's data: identity alone does not list
	// (the red team's leak of the card member through proofs.list).
	io := dial(t, ts, client.Auth{Origin: identityOnly})
	wantCode(t, io.Call(ctx5(t), "proofs.list", map[string]any{}, nil), bridge.CodeConsentDenied)
	if op := rc.last(); !slices.Equal(op.Fields, []string{"card", "identity"}) {
		t.Errorf("proofs.list asked consent for %+v", op)
	}
	c := dial(t, ts, client.Auth{Origin: goodOrigin})
	if err := c.Call(ctx5(t), "proofs.list", map[string]any{"ssin": "85073003328"}, nil); err != nil {
		t.Fatal(err)
	}
	wantCode(t, c.Call(ctx5(t), "proofs.list", map[string]any{"all": true}, nil), bridge.CodeConsentDenied)
	if op := rc.last(); op.Kind != "proofs-all" {
		t.Errorf("all:true asked consent for %+v", op)
	}
	a := dial(t, ts, client.Auth{Origin: admin})
	if err := a.Call(ctx5(t), "proofs.list", map[string]any{"all": true}, nil); err != nil {
		t.Fatalf("proofs-all granted: %v", err)
	}
	// The grant is for all:true; it gives no identity read.
	wantCode(t, a.Call(ctx5(t), "read", map[string]any{"fields": []string{"identity"}}, nil), bridge.CodeConsentDenied)
	fp.mu.Lock()
	defer fp.mu.Unlock()
	if len(fp.listed) != 2 || fp.listed[0].All || fp.listed[0].Caller.Origin != goodOrigin ||
		!fp.listed[1].All || fp.listed[1].Caller.Origin != admin {
		t.Errorf("backend saw %+v", fp.listed)
	}
}

// TestISIAndProofs: isi.submit takes exactly one of raw and manual, and
// both operations need the identity read permission.
func TestISIAndProofs(t *testing.T) {
	fp := &fakeProofs{}
	ts := start(t, func(c *bridge.Config) { c.Proofs = fp })
	c := dial(t, ts, client.Auth{Origin: goodOrigin})
	var r struct{ Reading json.RawMessage }
	if err := c.Call(ctx5(t), "isi.submit", map[string]any{"raw": "85073003328"}, &r); err != nil || len(fp.got) != 1 {
		t.Fatalf("scan: %v", err)
	}
	if err := c.Call(ctx5(t), "isi.submit", map[string]any{"manual": map[string]string{"ssin": "85073003328", "reason": "2"}}, nil); err != nil {
		t.Fatalf("manual: %v", err)
	}
	wantCode(t, c.Call(ctx5(t), "isi.submit", map[string]any{}, nil), bridge.CodeBadRequest)
	wantCode(t, c.Call(ctx5(t), "isi.submit", map[string]any{"raw": "1", "manual": map[string]string{"ssin": "1", "reason": "2"}}, nil), bridge.CodeBadRequest)
	wantCode(t, c.Call(ctx5(t), "proofs.list", map[string]any{"limit": 5000}, nil), bridge.CodeBadRequest)
	var l struct{ Proofs []json.RawMessage }
	if err := c.Call(ctx5(t), "proofs.list", nil, &l); err != nil {
		t.Fatal(err)
	}
	// An origin without the identity permission gets neither.
	other := dial(t, ts, client.Auth{Origin: "https://other.example"})
	wantCode(t, other.Call(ctx5(t), "isi.submit", map[string]any{"raw": "85073003328"}, nil), bridge.CodeConsentDenied)
	wantCode(t, other.Call(ctx5(t), "proofs.list", nil, nil), bridge.CodeConsentDenied)
	if len(fp.got) != 2 {
		t.Errorf("backend saw %d submissions", len(fp.got))
	}
}

// TestReadersBothPaths: readers answers the same from the backend's memory
// (in the read loop) and through Readers (the goroutine path).
func TestReadersBothPaths(t *testing.T) {
	ts := start(t, nil)
	c := dial(t, ts, client.Auth{Origin: goodOrigin})
	var fast, slow struct{ Readers []bridge.ReaderInfo }
	if err := c.Call(ctx5(t), "readers", nil, &fast); err != nil {
		t.Fatal(err)
	}
	ts.be.slowReaders.Store(true)
	if err := c.Call(ctx5(t), "readers", nil, &slow); err != nil {
		t.Fatal(err)
	}
	if len(fast.Readers) != 1 || !slices.Equal(fast.Readers, slow.Readers) {
		t.Errorf("fast %+v slow %+v", fast.Readers, slow.Readers)
	}
	wantCode(t, c.Call(ctx5(t), "readers", map[string]int{"x": 1}, nil), bridge.CodeBadRequest)
	ts.be.slowReaders.Store(false)
	wantCode(t, c.Call(ctx5(t), "readers", map[string]int{"x": 1}, nil), bridge.CodeBadRequest)
}
