package bridge_test

import (
	"context"
	"encoding/json"
	"fmt"
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

type fakeProofs struct{ got []bridge.ISISubmitRequest }

func (f *fakeProofs) SubmitISI(_ context.Context, r bridge.ISISubmitRequest) (json.RawMessage, error) {
	f.got = append(f.got, r)
	return json.RawMessage(`{"ssin":"85073003328"}`), nil
}
func (f *fakeProofs) ListProofs(_ context.Context, r bridge.ProofsListRequest) (json.RawMessage, error) {
	return json.RawMessage(`[]`), nil
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

// TestSelfOrigin: with SelfOrigin the agent's own pages (Origin = http://
// + the Host they were served from) get in; another loopback port does
// not, and without SelfOrigin neither does the agent's own.
func TestSelfOrigin(t *testing.T) {
	for _, self := range []bool{true, false} {
		ts := start(t, func(c *bridge.Config) { c.SelfOrigin = self })
		own := fmt.Sprintf("http://127.0.0.1:%d", ts.port)
		ctx := ctx5(t)
		c, err := client.Dial(ctx, ts.url, client.Auth{Origin: own})
		if (err == nil) != self {
			t.Errorf("SelfOrigin %v: own origin dial: %v", self, err)
		}
		if c != nil {
			c.Close()
		}
		if c, err := client.Dial(ctx, ts.url, client.Auth{Origin: fmt.Sprintf("http://127.0.0.1:%d", ts.port+1)}); err == nil {
			c.Close()
			t.Errorf("SelfOrigin %v: another port's page got in", self)
		}
	}
}
