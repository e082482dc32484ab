//go:build unix

package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/eid-agent/eid-agent/internal/clock"
	"github.com/eid-agent/eid-agent/internal/redistest"
)

// BenchmarkScale measures logins (tokens verified) per second per
// instance with the state in Redis against the in-memory store, in the
// same run:
//
//	go test -run '^$' -bench Scale -benchtime 1x -v ./cmd/eid-verify
//
// The instances are the built eid-verify, each its own process, so that
// their CPU time is measured apart from the clients' (this process) and
// Redis's (its own process). For RSA-2048 (RS256) and P-384 (ES384)
// tokens, with 1 and 2 instances: TOKENS logins (default 1000) are
// prepared (a session and nonce each, the token signed as the agent
// would), then sent by CLIENTS concurrent clients (default 64) as POST
// /api/login over loopback HTTP, with OCSP required and its answer already
// cached. With Redis and two instances every login goes to the instance
// that did not issue its nonce (the case only shared state serves); in
// memory each browser stays on one instance (sticky sessions, the best a
// memory store can do). The two stores alternate for ROUNDS rounds
// (default 7) and the medians of the per-round ratios are reported.
//
// Two ratios, because the 2-core machine is shared: "redis/mem" is the
// wall-clock throughput ratio; "cpu-ratio" is the instances' CPU per
// login in memory over the instances' plus redis-server's CPU per login
// with Redis, the capacity ratio of a machine that verification saturates,
// which other processes' load disturbs far less.
func BenchmarkScale(b *testing.B) {
	rd := redistest.Start(b)
	p := newClusterPKI(b)
	bin := filepath.Join(b.TempDir(), "eid-verify")
	if out, err := exec.Command("go", clock.GoBuild("-o", bin, ".")...).CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	rounds, tokens, clients := envInt("ROUNDS", 7), envInt("TOKENS", 1000), envInt("CLIENTS", 64)
	for _, key := range []struct {
		name string
		h    holder
	}{{"RSA", p.rsa}, {"EC", p.ec}} {
		for _, n := range []int{1, 2} {
			b.Run(fmt.Sprintf("%s/instances=%d", key.name, n), func(b *testing.B) {
				var mem, red []*instance
				for range n {
					mem = append(mem, startProcess(b, bin, p, ""))
					red = append(red, startProcess(b, bin, p, rd.URL()))
				}
				// Warm up: connections, and every instance's OCSP cache
				// (in memory, each its own; in Redis, one shared).
				for _, set := range [][]*instance{mem, red} {
					for _, in := range set {
						br := newBrowser(b)
						if r := br.login(in.url, key.h.token(b, br.nonce(in.url))); r.status != 200 || !strings.HasPrefix(r.body["ocsp"].(string), "good") {
							b.Fatalf("warm-up login: %d %s", r.status, r.raw)
						}
					}
				}
				var memRate, redRate, ratio, cpuRatio, redisCPU, memCPU, redCPU, nonceMem, nonceRed []float64
				for round := range rounds {
					// Which store goes first alternates, so that a drift
					// in the machine's load does not favour one.
					var m, r loginRun
					if round%2 == 0 {
						m = measureLogins(b, mem, key.h, tokens, clients, false, 0)
						r = measureLogins(b, red, key.h, tokens, clients, n > 1, rd.PID())
					} else {
						r = measureLogins(b, red, key.h, tokens, clients, n > 1, rd.PID())
						m = measureLogins(b, mem, key.h, tokens, clients, false, 0)
					}
					memRate = append(memRate, m.rate)
					redRate = append(redRate, r.rate)
					ratio = append(ratio, r.rate/m.rate)
					cpuRatio = append(cpuRatio, m.cpuPerLogin/(r.cpuPerLogin+r.redisCPUPerLogin))
					redisCPU = append(redisCPU, r.redisCPUPerLogin)
					memCPU = append(memCPU, m.cpuPerLogin)
					redCPU = append(redCPU, r.cpuPerLogin)
					nonceMem = append(nonceMem, m.cpuPerNonce)
					nonceRed = append(nonceRed, r.cpuPerNonce+r.redisCPUPerNonce)
				}
				med := func(v []float64) float64 { s := slices.Clone(v); slices.Sort(s); return s[len(s)/2] }
				b.ReportMetric(med(memRate)/float64(n), "mem-tok/s/inst")
				b.ReportMetric(med(redRate)/float64(n), "redis-tok/s/inst")
				b.ReportMetric(med(ratio), "redis/mem")
				b.ReportMetric(med(cpuRatio), "cpu-ratio")
				b.Logf("%s, %d instance(s), %d clients, %d logins x %d rounds: per instance memory %.0f tok/s, Redis %.0f tok/s; "+
					"throughput ratio Redis/memory median %.2f (rounds %s); CPU per login: instances %.0f µs (memory) vs %.0f µs + redis-server %.0f µs (Redis), "+
					"capacity ratio median %.2f (rounds %s); a nonce (new session): %.0f µs (memory) vs %.0f µs (Redis, with redis-server)",
					key.name, n, clients, tokens, rounds, med(memRate)/float64(n), med(redRate)/float64(n), med(ratio), fmtList(ratio),
					med(memCPU), med(redCPU), med(redisCPU), med(cpuRatio), fmtList(cpuRatio), med(nonceMem), med(nonceRed))
			})
		}
	}
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func fmtList(v []float64) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = strconv.FormatFloat(x, 'f', 2, 64)
	}
	return strings.Join(s, " ")
}

type loginRun struct {
	rate             float64 // logins per second, all instances together
	cpuPerLogin      float64 // µs of the instances' CPU
	redisCPUPerLogin float64 // µs of redis-server's CPU
	cpuPerNonce      float64 // the same for POST /api/nonce (a new session)
	redisCPUPerNonce float64
}

// startProcess runs the built eid-verify as startInstance configures it,
// in its own process, stopped at the end of the benchmark.
func startProcess(b *testing.B, bin string, p *clusterPKI, redisURL string) *instance {
	b.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", freePortTB(b))
	cmd := exec.Command(bin, "--listen", addr, "--origin", clusterOrigin, "--ocsp", "required", "--trust-root", p.rootsFile)
	if redisURL != "" {
		cmd.Env = append(os.Environ(), envRedis+"="+redisURL)
	}
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() })
	for i := 0; ; i++ {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			break
		}
		if i == 150 {
			b.Fatalf("eid-verify not listening: %s", out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	return &instance{url: "http://" + addr, pid: cmd.Process.Pid, logs: out}
}

func freePortTB(t testing.TB) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// benchTransport keeps enough idle connections for every client.
var benchTransport = &http.Transport{MaxIdleConns: 512, MaxIdleConnsPerHost: 256, IdleConnTimeout: time.Minute}

// measureLogins prepares count logins spread over insts (with cross, each
// is sent to another instance than the one that issued its nonce), then
// sends them from clients goroutines and times that part only.
func measureLogins(b *testing.B, insts []*instance, h holder, count, clients int, cross bool, redisPID int) loginRun {
	b.Helper()
	type pending struct {
		url    string
		cookie string
		body   []byte
	}
	logins := make([]pending, count)
	var next atomic.Int64
	var wg sync.WaitGroup
	var prepErr atomic.Value
	client := &http.Client{Transport: benchTransport, Timeout: 30 * time.Second}
	instCPU := func() (d time.Duration) {
		for _, in := range insts {
			d += pidCPU(in.pid)
		}
		return d
	}
	// The instances' CPU while they issue nonces (the token signing in
	// between is this process's).
	ncpu0, nrcpu0 := instCPU(), pidCPU(redisPID)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= count {
					return
				}
				br := &browser{t: b, client: client}
				issuer := insts[i%len(insts)]
				r, err := br.try("POST", issuer.url, "/api/nonce", map[string]any{})
				nonce, _ := r.body["nonce"].(string)
				if err != nil || r.status != 200 || nonce == "" {
					prepErr.Store(fmt.Sprintf("nonce: %v %d %s", err, r.status, r.raw))
					return
				}
				target := issuer
				if cross {
					target = insts[(i+1)%len(insts)]
				}
				body, _ := json.Marshal(map[string]json.RawMessage{"token": h.token(b, nonce)})
				logins[i] = pending{url: target.url + "/api/login", cookie: br.cookie.Name + "=" + br.cookie.Value, body: body}
			}
		}()
	}
	wg.Wait()
	if e := prepErr.Load(); e != nil {
		b.Fatal(e)
	}
	ncpu1, nrcpu1 := instCPU(), pidCPU(redisPID)

	next.Store(0)
	var failed atomic.Int64
	var firstFail atomic.Value
	cpu0, rcpu0 := instCPU(), pidCPU(redisPID)
	start := time.Now()
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= count {
					return
				}
				l := logins[i]
				req, _ := http.NewRequest("POST", l.url, bytes.NewReader(l.body))
				req.Header.Set("Origin", clusterOrigin)
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Cookie", l.cookie)
				res, err := client.Do(req)
				if err != nil {
					failed.Add(1)
					firstFail.CompareAndSwap(nil, err.Error())
					continue
				}
				raw, _ := io.ReadAll(res.Body)
				res.Body.Close()
				if res.StatusCode != 200 {
					failed.Add(1)
					firstFail.CompareAndSwap(nil, fmt.Sprintf("%d %s", res.StatusCode, raw))
				}
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	cpu1, rcpu1 := instCPU(), pidCPU(redisPID)
	if f := failed.Load(); f > 0 {
		b.Fatalf("%d of %d logins failed, first: %v", f, count, firstFail.Load())
	}
	per := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(count) }
	return loginRun{
		rate: float64(count) / el.Seconds(), cpuPerLogin: per(cpu1 - cpu0), redisCPUPerLogin: per(rcpu1 - rcpu0),
		cpuPerNonce: per(ncpu1 - ncpu0), redisCPUPerNonce: per(nrcpu1 - nrcpu0),
	}
}

// pidCPU is another process's user+system CPU time from /proc (clock
// ticks of 10 ms: enough over a round of several hundred milliseconds).
func pidCPU(pid int) time.Duration {
	if pid == 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command name (which may hold spaces) in brackets.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond
}
