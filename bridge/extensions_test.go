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
