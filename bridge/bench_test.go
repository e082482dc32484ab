package bridge_test

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/eid-agent/eid-agent/bridge"
)

// The load test: C clients each send `readers` requests one after another
// (wait for the answer, send the next), against the bridge with the fake
// backend and against a plain gorilla echo server in the same run. Run:
//
//	go test -run '^$' -bench LoadReport -benchtime 1x ./bridge/
//
// The benchmark configuration lifts the per-connection rate limit, which
// would otherwise be what is measured.

// echoServer is the baseline: gorilla, read a message, write it back.
func echoServer(t testing.TB) string {
	up := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		for {
			typ, b, err := ws.ReadMessage()
			if err != nil {
				return
			}
			if ws.WriteMessage(typ, b) != nil {
				return
			}
		}
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return "ws://" + l.Addr().String() + "/ws"
}

type loadResult struct {
	reqs     int
	elapsed  time.Duration
	p50, p99 time.Duration
}

func (r loadResult) rps() float64 { return float64(r.reqs) / r.elapsed.Seconds() }

func (r loadResult) String() string {
	return fmt.Sprintf("%8.0f req/s  p50 %7v  p99 %7v", r.rps(), r.p50.Round(time.Microsecond), r.p99.Round(time.Microsecond))
}

// load runs clients x perClient round trips.
func load(t testing.TB, url string, clients, perClient int, hello bool) loadResult {
	conns := make([]*websocket.Conn, clients)
	for i := range conns {
		ws, _, err := websocket.DefaultDialer.Dial(url, http.Header{"Origin": {goodOrigin}})
		if err != nil {
			t.Fatal(err)
		}
		defer ws.Close()
		if hello {
			ws.WriteMessage(websocket.TextMessage, []byte(`{"id":0,"type":"hello","params":{"protocol":1}}`))
			if _, _, err := ws.ReadMessage(); err != nil {
				t.Fatal(err)
			}
		}
		conns[i] = ws
	}
	lat := make([][]time.Duration, clients)
	var wg sync.WaitGroup
	startAt := time.Now()
	for i, ws := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l := make([]time.Duration, 0, perClient)
			msg := []byte(`{"id":1,"type":"readers"}`)
			for range perClient {
				t0 := time.Now()
				if err := ws.WriteMessage(websocket.TextMessage, msg); err != nil {
					t.Error(err)
					return
				}
				if _, _, err := ws.ReadMessage(); err != nil {
					t.Error(err)
					return
				}
				l = append(l, time.Since(t0))
			}
			lat[i] = l
		}()
	}
	wg.Wait()
	el := time.Since(startAt)
	all := slices.Concat(lat...)
	slices.Sort(all)
	if len(all) == 0 {
		t.Fatal("no samples")
	}
	return loadResult{reqs: len(all), elapsed: el, p50: all[len(all)/2], p99: all[len(all)*99/100]}
}

func benchServer(t testing.TB) *testServer {
	return start(t, func(c *bridge.Config) {
		c.Limits.RequestsPerSec = 1e9
		c.Limits.Burst = 1 << 30
		c.Limits.MaxConnections = 10000
	})
}

// idleMemory: heap + stacks per idle connection (both ends, in process),
// after hello.
func idleMemory(t testing.TB, url string, n int, hello bool) float64 {
	measure := func() uint64 {
		runtime.GC()
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapInuse + m.StackInuse
	}
	before := measure()
	conns := make([]*websocket.Conn, 0, n)
	for range n {
		ws, _, err := websocket.DefaultDialer.Dial(url, http.Header{"Origin": {goodOrigin}})
		if err != nil {
			t.Fatal(err)
		}
		if hello {
			ws.WriteMessage(websocket.TextMessage, []byte(`{"id":0,"type":"hello","params":{"protocol":1}}`))
			if _, _, err := ws.ReadMessage(); err != nil {
				t.Fatal(err)
			}
		}
		conns = append(conns, ws)
	}
	time.Sleep(100 * time.Millisecond)
	after := measure()
	for _, ws := range conns {
		ws.Close()
	}
	return float64(after-before) / float64(n)
}

// BenchmarkLoadReport compares the bridge with a plain gorilla echo server
// in the same run (go test -run '^$' -bench LoadReport -benchtime 1x
// ./bridge): requests/s and latency by number of clients, and memory per
// idle connection. It logs a report rather than timing b.N iterations.
func BenchmarkLoadReport(b *testing.B) {
	t := b
	ts := benchServer(t)
	echo := echoServer(t)
	// A 2-core machine shared with the client goroutines is noisy: echo
	// and bridge alternate for ROUNDS rounds (default 5) and the median
	// of the per-round ratios is reported.
	rounds := 5
	if v, err := strconv.Atoi(os.Getenv("ROUNDS")); err == nil && v > 0 {
		rounds = v
	}
	for _, clients := range []int{1, 16, 64} {
		per := 20000 / clients
		load(t, ts.url, clients, 200, true) // warm up
		var tput, p50 []float64
		var e, b loadResult
		for range rounds {
			e = load(t, echo, clients, per, false)
			b = load(t, ts.url, clients, per, true)
			tput = append(tput, e.rps()/b.rps())
			p50 = append(p50, float64(b.p50)/float64(e.p50))
		}
		slices.Sort(tput)
		slices.Sort(p50)
		t.Logf("%3d clients  echo   %s (last round)", clients, e)
		t.Logf("%3d clients  bridge %s (last round)", clients, b)
		t.Logf("%3d clients  median of %d rounds: throughput ratio echo/bridge %.2f, p50 ratio %.2f",
			clients, rounds, tput[len(tput)/2], p50[len(p50)/2])
	}
	const n = 500
	mb := idleMemory(t, ts.url, n, true)
	me := idleMemory(t, echo, n, false)
	t.Logf("idle connection, both ends in process: bridge %.1f KiB, echo %.1f KiB", mb/1024, me/1024)
}

func BenchmarkReaders(b *testing.B) {
	ts := benchServer(b)
	r := load(b, ts.url, 16, max(b.N/16, 1), true)
	b.ReportMetric(r.rps(), "req/s")
	b.ReportMetric(float64(r.p99.Microseconds()), "p99-µs")
}

func BenchmarkEcho(b *testing.B) {
	url := echoServer(b)
	r := load(b, url, 16, max(b.N/16, 1), false)
	b.ReportMetric(r.rps(), "req/s")
	b.ReportMetric(float64(r.p99.Microseconds()), "p99-µs")
}
