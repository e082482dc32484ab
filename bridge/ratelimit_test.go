package bridge_test

import (
	"testing"
	"time"

	"github.com/eid-agent/eid-agent/bridge"
)

func TestBucket(t *testing.T) {
	t0 := time.Unix(1000, 0)
	b := bridge.NewBucket(10, 3, t0)
	for i, tc := range []struct {
		at time.Duration
		ok bool
	}{
		{0, true}, {0, true}, {0, true}, {0, false}, // burst of 3
		{50 * time.Millisecond, false}, // half a token
		{100 * time.Millisecond, true}, // one token
		{100 * time.Millisecond, false},
		{10 * time.Second, true}, {10 * time.Second, true}, {10 * time.Second, true}, // refilled to burst, not beyond
		{10 * time.Second, false},
		{9 * time.Second, false}, // clock going back gives nothing
	} {
		if got := b.Allow(t0.Add(tc.at)); got != tc.ok {
			t.Errorf("step %d at %v: %v", i, tc.at, got)
		}
	}
}
