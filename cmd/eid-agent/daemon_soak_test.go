package main

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/eid-agent/eid-agent/bridge/client"
)

// TestDaemonSoak churns the simulated card (insert, read, remove) for a
// bounded time (soakDuration) while 32 subscribed clients count events and
// 4 of them read: no client may miss an event, every read must succeed,
// and once the clients are gone the agent's goroutines and heap must be
// back near where they started.
func TestDaemonSoak(t *testing.T) {
	dur, err := soakDuration(os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	// Four counters' pages: one origin may hold 16 of the 64 websockets
	// (docs/protocol.md, "Who may connect"). The churn driver sends two
	// requests per cycle, and a cycle of the simulated card (no link time)
	// can take under 100 ms: above the default 20 requests per second of
	// one connection.
	apps := []string{"https://counter1.example", "https://counter2.example", "https://counter3.example", "https://counter4.example"}
	args := []string{"--simulate", "--log-level", "warn"}
	for _, a := range apps {
		args = append(args, "--allow-origin", a, "--grant", a+"=identity,photo")
	}
	d := startDaemon(t, "[limits]\nrequests_per_second = 200\n", args...)
	app := apps[0]
	before := d.status()
	ctx, cancel := context.WithTimeout(context.Background(), dur+time.Minute)
	defer cancel()

	const clients = 32
	type tally struct{ inserted, removed int }
	tallies := make([]tally, clients)
	var wg sync.WaitGroup
	conns := make([]*client.Client, clients)
	for i := range conns {
		conns[i] = d.dial(apps[i%len(apps)])
		if err := conns[i].Call(ctx, "subscribe", nil, nil); err != nil {
			t.Fatal(err)
		}
		nextEvent(t, conns[i], "card-inserted", 2*time.Second) // the initial state
	}
	stop := make(chan struct{})
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case e := <-c.Events():
					switch e.Event {
					case "card-inserted":
						tallies[i].inserted++
					case "card-removed":
						tallies[i].removed++
					}
				case <-stop:
					return
				}
			}
		}()
	}
	ctl := d.dial(app) // drives the churn
	var cycles int
	end := time.Now().Add(dur)
	for time.Now().Before(end) {
		if err := ctl.Call(ctx, "simulator.remove", nil, nil); err != nil {
			t.Fatal(err)
		}
		profile := []string{"citizen-1.8", "citizen-1.7", "kids-1.8"}[cycles%3]
		if err := ctl.Call(ctx, "simulator.insert", map[string]string{"profile": profile}, nil); err != nil {
			t.Fatal(err)
		}
		var rwg sync.WaitGroup
		for r := range 4 {
			rwg.Add(1)
			go func() {
				defer rwg.Done()
				if err := conns[r].Call(ctx, "read", map[string]any{"fields": []string{"identity", "photo"}}, nil); err != nil {
					t.Errorf("read during churn: %v", err)
				}
			}()
		}
		rwg.Wait()
		cycles++
	}
	// Let the last events arrive, then count.
	time.Sleep(500 * time.Millisecond)
	close(stop)
	wg.Wait()
	for i, tl := range tallies {
		if tl.inserted != cycles || tl.removed != cycles {
			t.Errorf("client %d saw %d insertions and %d removals of %d", i, tl.inserted, tl.removed, cycles)
		}
	}
	for _, c := range conns {
		c.Close()
	}
	ctl.Close()
	var after = d.status()
	for i := 0; i < 50 && after.Goroutines > before.Goroutines+4; i++ {
		time.Sleep(100 * time.Millisecond)
		after = d.status()
	}
	t.Logf("%d cycles in %v with %d clients; goroutines %d -> %d, heap %d KiB -> %d KiB",
		cycles, dur, clients, before.Goroutines, after.Goroutines, before.HeapBytes>>10, after.HeapBytes>>10)
	if after.Goroutines > before.Goroutines+4 {
		t.Errorf("goroutines grew from %d to %d", before.Goroutines, after.Goroutines)
	}
	if after.HeapBytes > before.HeapBytes+16<<20 {
		t.Errorf("heap grew from %d to %d bytes", before.HeapBytes, after.HeapBytes)
	}
	if code := d.stop(); code != 0 {
		t.Errorf("exit %d", code)
	}
}

// soakDuration: EID_SOAK when set (a Go duration); otherwise 20 s in CI
// (CI set), and 2 s elsewhere, a handful of churn cycles, so that a plain
// `go test ./...` does not spend most of its time here.
func soakDuration(getenv func(string) string) (time.Duration, error) {
	if v := getenv("EID_SOAK"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return 0, fmt.Errorf("EID_SOAK=%q: want a positive duration such as 20s", v)
		}
		return d, nil
	}
	if getenv("CI") != "" {
		return 20 * time.Second, nil
	}
	return 2 * time.Second, nil
}

func TestSoakDuration(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want time.Duration
		err  bool
	}{
		{nil, 2 * time.Second, false},
		{map[string]string{"CI": "true"}, 20 * time.Second, false},
		{map[string]string{"CI": "true", "EID_SOAK": "5m"}, 5 * time.Minute, false},
		{map[string]string{"EID_SOAK": "90s"}, 90 * time.Second, false},
		{map[string]string{"EID_SOAK": "20"}, 0, true},
		{map[string]string{"EID_SOAK": "-1s"}, 0, true},
	} {
		got, err := soakDuration(func(k string) string { return tc.env[k] })
		if got != tc.want || (err != nil) != tc.err {
			t.Errorf("%v: %v %v, want %v (error %v)", tc.env, got, err, tc.want, tc.err)
		}
	}
}
