//go:build unix

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/eid-agent/eid-agent/internal/clock"
	"github.com/eid-agent/eid-agent/internal/redistest"
	"github.com/eid-agent/eid-agent/verify"
	"github.com/eid-agent/eid-agent/verify/redisstore"
)

// TestTwoInstances: two eid-verify instances on one Redis act as one
// service. A nonce issued by A is used at B, once; the session is then
// known to both; the OCSP answer one instance fetched serves the other.
func TestTwoInstances(t *testing.T) {
	rd := redistest.Start(t)
	p := newClusterPKI(t)
	a, b := startInstance(t, p, rd.URL()), startInstance(t, p, rd.URL())

	for _, in := range []*instance{a, b} {
		h := newBrowser(t).do("GET", in.url, "/healthz", nil)
		if h.status != 200 || h.body["store"] != "redis" || h.body["redis"] != "ok" {
			t.Fatalf("health: %d %s", h.status, h.raw)
		}
	}

	alice := newBrowser(t)
	n := alice.nonce(a.url)
	tok := p.rsa.token(t, n)
	r := alice.login(b.url, tok)
	if r.status != 200 {
		t.Fatalf("nonce from A, login at B: %d %s", r.status, r.raw)
	}
	if person := r.body["person"].(map[string]any); person["ssin"] != p.rsa.ssin {
		t.Fatalf("person %v", person)
	}
	if r.body["ocsp"] != "good" || p.resp.hitsFor(p.rsa) != 1 {
		t.Fatalf("OCSP %v, responder hits %d", r.body["ocsp"], p.resp.hitsFor(p.rsa))
	}
	// The new session is served by either instance.
	if !alice.loggedIn(a.url) || !alice.loggedIn(b.url) {
		t.Fatal("session not shared")
	}
	// The same request again, to A and to B: the challenge is spent.
	for _, in := range []*instance{a, b, a} {
		r := alice.login(in.url, tok)
		if r.status == 200 || r.code() != "NONCE_UNKNOWN" {
			t.Fatalf("replay: %d %s", r.status, r.raw)
		}
	}
	// Another browser replaying Alice's token in its own session (login
	// CSRF the other way round) fails at either instance: the token is not
	// for that session's challenge.
	mallory := newBrowser(t)
	mallory.nonce(b.url)
	if r := mallory.login(a.url, tok); r.status != 401 || r.code() != "SIGNATURE" {
		t.Fatalf("token in another session: %d %s", r.status, r.raw)
	}
	if mallory.loggedIn(a.url) {
		t.Fatal("logged in with another session's token")
	}

	// The EC certificate: nonce from B, login at A asks the responder;
	// the next login with it, at B, uses the answer A stored in Redis.
	bob := newBrowser(t)
	if r := bob.login(a.url, p.ec.token(t, bob.nonce(b.url))); r.status != 200 || r.body["ocsp"] != "good" {
		t.Fatalf("EC login: %d %s", r.status, r.raw)
	}
	carol := newBrowser(t)
	if r := carol.login(b.url, p.ec.token(t, carol.nonce(a.url))); r.status != 200 || r.body["ocsp"] != "good (cached)" {
		t.Fatalf("second EC login at the other instance: %d %s", r.status, r.raw)
	}
	if h := p.resp.hitsFor(p.ec); h != 1 {
		t.Fatalf("responder asked %d times about one certificate by two instances, want 1", h)
	}

	// Logout at B ends the session at A.
	if r := alice.do("POST", b.url, "/api/logout", map[string]any{}); r.status != 200 {
		t.Fatalf("logout: %d %s", r.status, r.raw)
	}
	if alice.loggedIn(a.url) {
		t.Fatal("session alive at A after logout at B")
	}
}

// TestConcurrentReplays: the same login request (cookie and token) sent
// 100 times at once, to A, to B, and to both: exactly one succeeds.
func TestConcurrentReplays(t *testing.T) {
	rd := redistest.Start(t)
	p := newClusterPKI(t)
	a, b := startInstance(t, p, rd.URL()), startInstance(t, p, rd.URL())
	for _, tc := range []struct {
		name    string
		targets []*instance
	}{
		{"to A", []*instance{a}},
		{"to B", []*instance{b}},
		{"to both", []*instance{a, b}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			br := newBrowser(t)
			tok := p.ec.token(t, br.nonce(tc.targets[len(tc.targets)-1].url))
			body := map[string]any{"token": json.RawMessage(tok)}
			const n = 100
			var wg sync.WaitGroup
			start := make(chan struct{})
			replies := make([]reply, n)
			errs := make([]error, n)
			for i := range n {
				// A copy of the browser per request: same cookie, and the
				// winner's new cookie does not leak into the others.
				c := &browser{t: t, client: br.client, cookie: br.cookie}
				base := tc.targets[i%len(tc.targets)].url
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					replies[i], errs[i] = c.try("POST", base, "/api/login", body)
				}()
			}
			close(start)
			wg.Wait()
			ok, codes := 0, map[string]int{}
			for i, r := range replies {
				if errs[i] != nil {
					t.Fatal(errs[i])
				}
				if r.status == 200 {
					ok++
				} else {
					codes[fmt.Sprintf("%d %s", r.status, r.code())]++
				}
			}
			if ok != 1 {
				t.Fatalf("%d of %d replays logged in (refusals: %v)", ok, n, codes)
			}
			// The losers find the challenge taken, or (after the winner's
			// login renewed the session ID) no session at all.
			for c := range codes {
				if c != "400 NONCE_UNKNOWN" && c != "401 NONCE_REPLAYED" && c != "401 NO_SESSION" {
					t.Fatalf("unexpected refusal %q (all: %v)", c, codes)
				}
			}
		})
	}
}

// TestRedisOutage: with Redis stopped the instances refuse every login
// with a clear 503 (never a login), report it on /healthz, and recover by
// themselves once Redis is back.
func TestRedisOutage(t *testing.T) {
	rd := redistest.Start(t)
	p := newClusterPKI(t)
	a, b := startInstance(t, p, rd.URL()), startInstance(t, p, rd.URL())

	alice := newBrowser(t)
	if r := alice.login(b.url, p.ec.token(t, alice.nonce(a.url))); r.status != 200 {
		t.Fatalf("login before the outage: %d %s", r.status, r.raw)
	}
	// A challenge issued before the outage, answered during it.
	bob := newBrowser(t)
	pending := p.rsa.token(t, bob.nonce(a.url))

	rd.Stop()
	for _, in := range []*instance{a, b} {
		h := newBrowser(t).do("GET", in.url, "/healthz", nil)
		if h.status != 503 || h.body["status"] != "unavailable" || h.body["redis"] != "unavailable" || h.body["error"] == "" {
			t.Fatalf("health during the outage: %d %s", h.status, h.raw)
		}
		for _, tc := range []struct {
			who    *browser
			method string
			path   string
			body   any
		}{
			{bob, "POST", "/api/login", map[string]any{"token": pending}},
			{newBrowser(t), "POST", "/api/nonce", map[string]any{}},
			{alice, "GET", "/api/session", nil},
		} {
			r := tc.who.do(tc.method, in.url, tc.path, tc.body)
			if r.status != 503 || r.code() != "STORE_UNAVAILABLE" {
				t.Fatalf("%s %s during the outage: %d %s", tc.method, tc.path, r.status, r.raw)
			}
			// The browser is not told where Redis is; the log is.
			if strings.Contains(string(r.raw), rd.Addr()) {
				t.Fatalf("answer shows Redis's address: %s", r.raw)
			}
		}
	}

	rd.Restart()
	// The instances are not restarted: they reach Redis again on their
	// own (go-redis re-dials; the wait only bounds how long that may take).
	for _, in := range []*instance{a, b} {
		for i := 0; ; i++ {
			h := newBrowser(t).do("GET", in.url, "/healthz", nil)
			if h.status == 200 {
				break
			}
			if i == 300 {
				t.Fatalf("not healthy 30 s after Redis came back: %s", h.raw)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	// Redis restarted empty (no persistence): sessions and pending
	// challenges are gone, so both must start over, which works.
	if alice.loggedIn(a.url) {
		t.Fatal("session survived an empty Redis")
	}
	if r := bob.login(b.url, pending); r.status == 200 {
		t.Fatal("a challenge from before the outage logged in")
	}
	if r := bob.login(b.url, p.rsa.token(t, bob.nonce(a.url))); r.status != 200 {
		t.Fatalf("login after recovery: %d %s", r.status, r.raw)
	}
	if !bob.loggedIn(a.url) {
		t.Fatal("session after recovery not shared")
	}
	if !strings.Contains(a.logs.String()+b.logs.String(), rd.Addr()) {
		t.Fatal("the outage's detail is not in the log")
	}
	// Nothing personal in the logs, even on failures.
	for _, in := range []*instance{a, b} {
		for _, ssin := range []string{p.rsa.ssin, p.ec.ssin} {
			if strings.Contains(in.logs.String(), ssin) {
				t.Fatal("a national number reached the log")
			}
		}
	}
}

// TestRedisHungLogin: a Redis that accepts connections but never answers
// makes a login fail with 503 after the store's timeout, not hang.
func TestRedisHungLogin(t *testing.T) {
	rd := redistest.Start(t)
	p := newClusterPKI(t)
	a := startInstance(t, p, rd.URL())
	br := newBrowser(t)
	tok := p.ec.token(t, br.nonce(a.url))
	rd.Pause()
	r := br.login(a.url, tok)
	rd.Resume()
	if r.status != 503 || r.code() != "STORE_UNAVAILABLE" {
		t.Fatalf("login with Redis hung: %d %s", r.status, r.raw)
	}
}

// TestBinaryTwoInstances: the built eid-verify, twice, configured through
// EID_VERIFY_REDIS as a deployment would (no password on the command
// line): a nonce from one process logs in at the other, once, and both
// stop cleanly on SIGTERM.
func TestBinaryTwoInstances(t *testing.T) {
	rd := redistest.Start(t)
	p := newClusterPKI(t)
	bin := filepath.Join(t.TempDir(), "eid-verify")
	if out, err := exec.Command("go", clock.GoBuild("-o", bin, ".")...).CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	start := func() (string, *exec.Cmd) {
		addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
		cmd := exec.Command(bin, "--listen", addr, "--origin", clusterOrigin, "--ocsp", "required", "--trust-root", p.rootsFile)
		cmd.Env = append(os.Environ(), envRedis+"="+rd.URL())
		out := &syncBuffer{}
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		waitListening(t, addr, out)
		if !strings.Contains(out.String(), "state in Redis at "+rd.URL()) {
			t.Fatalf("banner: %s", out.String())
		}
		return "http://" + addr, cmd
	}
	a, cmdA := start()
	b, cmdB := start()

	br := newBrowser(t)
	tok := p.rsa.token(t, br.nonce(a))
	if r := br.login(b, tok); r.status != 200 {
		t.Fatalf("nonce from A, login at B: %d %s", r.status, r.raw)
	}
	if r := br.login(a, tok); r.status == 200 {
		t.Fatal("replay at A accepted")
	}
	if !br.loggedIn(a) {
		t.Fatal("session not shared between the processes")
	}
	for _, c := range []*exec.Cmd{cmdA, cmdB} {
		c.Process.Signal(syscall.SIGTERM)
		if err := c.Wait(); err != nil {
			t.Fatalf("exit on SIGTERM: %v", err)
		}
	}
}

// TestValidatorsShareNonces: below the service's session layer, two
// Validators (two instances) on one Redis accept one token for one nonce
// exactly once among 100 concurrent attempts split between them.
func TestValidatorsShareNonces(t *testing.T) {
	rd := redistest.Start(t)
	p := newClusterPKI(t)
	roots, inters, _, err := loadTrust([]string{p.rootsFile})
	if err != nil {
		t.Fatal(err)
	}
	var vs []*verify.Validator
	var first *redisstore.Nonces
	for range 2 {
		c, err := redisstore.NewClient(rd.URL(), nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		st := redisstore.New(c, redisstore.Options{})
		if first == nil {
			first = st.Nonces()
		}
		vs = append(vs, &verify.Validator{Roots: roots, Intermediates: inters, Nonces: st.Nonces(),
			OCSP: verify.OCSPConfig{Policy: verify.OCSPRequired, Cache: st.OCSPCache()}})
	}
	n, err := first.Issue(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	tok := p.ec.token(t, n)
	var ok, replayed atomic.Int32
	var wg sync.WaitGroup
	for i := range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := vs[i%2].Validate(context.Background(), tok, clusterOrigin, n)
			switch {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, verify.ErrNonceReplayed):
				replayed.Add(1)
			default:
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if ok.Load() != 1 || replayed.Load() != 99 {
		t.Fatalf("%d accepted, %d replays refused", ok.Load(), replayed.Load())
	}
}

// TestRedisTLS: the instances reach Redis over TLS (rediss://, a private
// CA given with --redis-ca) with a password, which appears in no output.
func TestRedisTLS(t *testing.T) {
	const pw = "pw-d2a9c1e7"
	rd := redistest.StartWith(t, redistest.Options{TLS: true, Password: pw})
	p := newClusterPKI(t)
	a := startInstance(t, p, rd.URL(), "--redis-ca", rd.CAFile())
	b := startInstance(t, p, rd.URL(), "--redis-ca", rd.CAFile())
	br := newBrowser(t)
	if r := br.login(b.url, p.ec.token(t, br.nonce(a.url))); r.status != 200 {
		t.Fatalf("login over TLS: %d %s", r.status, r.raw)
	}
	if !br.loggedIn(a.url) {
		t.Fatal("session not shared over TLS")
	}
	// Without the CA the instance cannot trust Redis: unhealthy, no login.
	c := startInstance(t, p, rd.URL())
	if h := newBrowser(t).do("GET", c.url, "/healthz", nil); h.status != 503 || !strings.Contains(h.body["error"].(string), "certificate") {
		t.Fatalf("health without the CA: %d %s", h.status, h.raw)
	}
	if r := newBrowser(t).do("POST", c.url, "/api/nonce", map[string]any{}); r.status != 503 || r.code() != "STORE_UNAVAILABLE" {
		t.Fatalf("nonce without the CA: %d %s", r.status, r.raw)
	}
	for _, in := range []*instance{a, b, c} {
		if out := in.out.String() + in.logs.String(); strings.Contains(out, pw) || !strings.Contains(in.out.String(), "rediss://:xxxxx@") {
			t.Fatalf("output shows the password or no redacted URL:\n%s", out)
		}
	}
}
