package web_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eid-agent/eid-agent/internal/clock"

	"github.com/ebfe/scard"

	"github.com/eid-agent/eid-agent/bridge"
	"github.com/eid-agent/eid-agent/bridge/client"
	"github.com/eid-agent/eid-agent/internal/lab"
	"github.com/eid-agent/eid-agent/internal/virtual"
	"github.com/eid-agent/eid-agent/internal/vpcd"
	"github.com/eid-agent/eid-agent/internal/web"
	"github.com/eid-agent/eid-agent/verify"
)

// The end-to-end tests run the real agent binary (built from
// cmd/eid-agent), a virtual card in a PC/SC lab slot, and the demo page in
// Debian's headless Chromium through playwright-core (web/e2e/*.mjs).

// requireBrowser returns node's path once node, web/node_modules and
// Chromium are there; in CI their absence fails the test.
func requireBrowser(t *testing.T) string {
	t.Helper()
	node := requireNode(t)
	if _, err := os.Stat(filepath.Join("node_modules", "playwright-core", "package.json")); err != nil {
		lab.Require(t, "web/node_modules is missing (npm ci --prefix web)")
	}
	chromium := os.Getenv("EID_CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	if _, err := os.Stat(chromium); err != nil {
		lab.Require(t, "Chromium is not installed (apt-get install -y chromium)")
	}
	return node
}

var (
	agentOnce sync.Once
	agentBin  string
	agentErr  error
)

// buildAgent builds cmd/eid-agent once per test binary.
func buildAgent(t *testing.T) string {
	t.Helper()
	agentOnce.Do(func() {
		dir, err := os.MkdirTemp("", "eid-agent-web-e2e")
		if err != nil {
			agentErr = err
			return
		}
		agentBin = filepath.Join(dir, "eid-agent")
		out, err := exec.Command("go", clock.GoBuild("-o", agentBin, "../../cmd/eid-agent")...).CombinedOutput()
		if err != nil {
			agentErr = fmt.Errorf("building eid-agent: %v\n%s", err, out)
		}
	})
	if agentErr != nil {
		t.Fatal(agentErr)
	}
	return agentBin
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// fakePinentry answers the agent's PIN dialog (the Assuan protocol of
// pinentry programs) with the virtual card's PIN.
const fakePinentry = `#!/bin/sh
echo 'OK Pleased to meet you'
while read cmd rest; do
  case $cmd in
    GETPIN) echo 'D 1234'; echo OK ;;
    BYE) echo OK; exit 0 ;;
    *) echo OK ;;
  esac
done
`

type runningAgent struct {
	port     int
	origin   string
	stateDir string
	stderr   *bytes.Buffer
}

// startAgent runs `eid-agent run` on a free port with the flags that
// args makes for the agent's own origin, and waits until it listens.
func startAgent(t *testing.T, args func(origin string) []string) *runningAgent {
	t.Helper()
	return startAgentOn(t, freePort(t), args)
}

// startAgentOn is startAgent on a given port.
func startAgentOn(t *testing.T, port int, args func(origin string) []string) *runningAgent {
	t.Helper()
	bin := buildAgent(t)
	dir := t.TempDir()
	pin := filepath.Join(dir, "pinentry")
	if err := os.WriteFile(pin, []byte(fakePinentry), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "config.toml")
	conf := fmt.Sprintf("pin_prompt = \"pinentry\"\npinentry_program = %q\nconsent_prompt = \"none\"\n", pin)
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	a := &runningAgent{port: port, stateDir: filepath.Join(dir, "state"), stderr: &bytes.Buffer{}}
	a.origin = fmt.Sprintf("http://127.0.0.1:%d", a.port)
	full := append([]string{"run", "--config", cfg, "--state-dir", a.stateDir,
		"--listen", fmt.Sprintf("127.0.0.1:%d", a.port), "--log-format", "json"}, args(a.origin)...)
	cmd := exec.Command(bin, full...)
	cmd.Env = append(os.Environ(), "EID_AGENT_CONFIG="+cfg)
	cmd.Stderr = a.stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("agent stderr:\n%s", a.stderr)
		}
	})
	listening := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		ok := false
		for sc.Scan() {
			if !ok && strings.Contains(sc.Text(), "listening on") {
				ok = true
				listening <- true
			}
		}
		if !ok {
			listening <- false
		}
	}()
	select {
	case ok := <-listening:
		if !ok {
			t.Fatalf("agent exited before listening:\n%s", a.stderr)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("agent did not start:\n%s", a.stderr)
	}
	return a
}

// runNode runs a script under web/ with env, streaming its step lines to
// the test log, and returns its output.
func runNode(t *testing.T, node string, env []string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "step: ") {
			t.Log(strings.TrimPrefix(l, "step: "))
		}
	}
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// cardControl is the HTTP server the browser script calls to insert and
// remove the virtual card and to hand over the token it sent.
type cardControl struct {
	t       *testing.T
	slot    lab.Slot
	profile *virtual.Profile

	mu    sync.Mutex
	in    *vpcd.Insertion
	token []byte // {"nonce", "token"} as the page posted it
}

func (c *cardControl) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var err error
	switch r.URL.Path {
	case "/insert":
		if c.in != nil {
			err = errors.New("card already inserted")
			break
		}
		c.in, err = vpcd.Insert(context.Background(), c.slot.Addr, virtual.New(c.profile))
	case "/remove":
		if c.in == nil {
			err = errors.New("no card")
			break
		}
		err = c.in.Remove()
		c.in = nil
	case "/token":
		c.token, err = io.ReadAll(io.LimitReader(r.Body, 64<<10))
	default:
		http.NotFound(w, r)
		return
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	fmt.Fprintln(w, "ok")
}

func (c *cardControl) cleanup() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.in != nil {
		c.in.Remove()
		c.in = nil
	}
}

// waitEmpty waits until pcscd reports the slot empty (a previous test's
// card may still be leaving).
func waitEmpty(t *testing.T, reader string) {
	t.Helper()
	ctx, err := scard.EstablishContext()
	if err != nil {
		lab.Require(t, "PC/SC is not available: "+err.Error())
	}
	defer ctx.Release()
	lab.WaitCard(t, ctx, reader, false)
}

func writeTrust(t *testing.T, p *virtual.Profile) string {
	t.Helper()
	var b bytes.Buffer
	// The root, and the Citizen CA that completes the authentication
	// chain (the token carries the user certificate only).
	for _, c := range [][]byte{p.PKI.Root.Raw, p.PKI.CA.Raw} {
		pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: c})
	}
	f := filepath.Join(t.TempDir(), "trust.pem")
	if err := os.WriteFile(f, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

// TestBrowserDemo: the demo page, served by the agent, in Chromium:
// connect, reader listed, insert → holder shown, authenticate → verified
// (and the token validated here too), keyboard-wedge scan, remove → shown,
// a non-allowed origin refused.
func TestBrowserDemo(t *testing.T) {
	node := requireBrowser(t)
	slot := lab.Slots(t)[0]
	waitEmpty(t, slot.Reader)
	p, err := virtual.Preset("citizen-1.8")
	if err != nil {
		t.Fatal(err)
	}
	authCert, err := p.Certificate(virtual.PathAuthCert)
	if err != nil {
		t.Fatal(err)
	}
	nn := authCert.Subject.SerialNumber
	trust := writeTrust(t, p)

	// The agent's own page origin is allowed and granted what the demo uses
	// (isi only when this agent knows that permission).
	perms := "card,identity,address,photo,photoSha256,certificates,integrity,authenticate"
	if help, _ := exec.Command(buildAgent(t), "run", "-h").CombinedOutput(); bytes.Contains(help, []byte(",isi")) {
		perms += ",isi"
	}
	a := startAgent(t, func(origin string) []string {
		return []string{"--allow-origin", origin, "--allow-http-loopback-origins",
			"--grant", origin + "=" + perms, "--trust-root", trust}
	})

	// A page of the same demo from another origin, which the agent
	// refuses. The page talks only to its own host, so that server hands
	// /ws on to the agent (with the agent's Host, the browser's Origin).
	agentWS := fmt.Sprintf("ws://127.0.0.1:%d/ws", a.port)
	agentHTTP := &url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", a.port)}
	mux := http.NewServeMux()
	mux.Handle("/ws", &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) { r.SetURL(agentHTTP) }})
	mux.Handle("/", web.Handler(web.Options{}))
	other := httptest.NewServer(mux)
	defer other.Close()

	// A stand-in for another program on another loopback port: a page
	// link naming it with ?agent= must not reach it.
	foreign, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer foreign.Close()
	var foreignConns atomic.Int32
	go func() {
		for {
			c, err := foreign.Accept()
			if err != nil {
				return
			}
			foreignConns.Add(1)
			c.Close()
		}
	}()

	ctl := &cardControl{t: t, slot: slot, profile: p}
	defer ctl.cleanup()
	ctlSrv := httptest.NewServer(ctl)
	defer ctlSrv.Close()

	env := []string{
		"EID_PAGE=" + a.origin + "/",
		"EID_REFUSED_PAGE=" + other.URL + "/",
		"EID_FOREIGN_AGENT=" + "ws://" + foreign.Addr().String() + "/ws",
		"EID_READER=" + slot.Reader,
		"EID_EXPECT_NN=" + nn,
		"EID_CONTROL=" + ctlSrv.URL,
	}
	if d := os.Getenv("EID_SHOTS"); d != "" {
		env = append(env, "EID_SHOTS="+d)
	}
	t.Logf("diag: test rrn ...%s root ...%s", tail64(p.PKI.RRN.Raw), tail64(p.PKI.Root.Raw))
	out := runNode(t, node, env, "e2e/demo.mjs")
	if !strings.Contains(out, "e2e: ok") {
		t.Fatalf("script did not finish:\n%s", out)
	}
	if n := foreignConns.Load(); n != 0 {
		t.Errorf("the demo page opened %d connection(s) to the foreign ?agent= port", n)
	}
	if strings.Contains(out, "isi: feature absent") {
		t.Log("NOTE: the agent's hello lists no \"isi\" feature: the ISI+ scan-to-agent assertion was not run (the browser scan capture was)")
	}

	// The token the page posted verifies here too, independently of the
	// demo server: same origin, same nonce (put into a fresh store).
	ctl.mu.Lock()
	posted := ctl.token
	ctl.mu.Unlock()
	var body struct {
		Nonce string          `json:"nonce"`
		Token json.RawMessage `json:"token"`
	}
	if err := json.Unmarshal(posted, &body); err != nil || body.Nonce == "" {
		t.Fatalf("token from the page: %v %q", err, posted)
	}
	store := &verify.MemoryNonceStore{}
	if err := store.Put(body.Nonce, clock.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	roots, inters := poolOf(p.PKI.Root), poolOf(p.PKI.CA)
	v := &verify.Validator{Roots: roots, Intermediates: inters, Nonces: store, OCSP: verify.OCSPConfig{Policy: verify.OCSPOff}}
	res, err := v.Validate(context.Background(), body.Token, a.origin, body.Nonce)
	if err != nil {
		t.Fatalf("the page's token does not verify: %v", err)
	}
	if res.Person.SSIN != nn {
		t.Errorf("token names %s, want %s", res.Person.SSIN, nn)
	}
	// Bound to the page's origin: checked for the refused page's origin it fails.
	store2 := &verify.MemoryNonceStore{}
	store2.Put(body.Nonce, clock.Now().Add(time.Minute))
	v2 := &verify.Validator{Roots: roots, Intermediates: inters, Nonces: store2, OCSP: verify.OCSPConfig{Policy: verify.OCSPOff}}
	if _, err := v2.Validate(context.Background(), body.Token, other.URL, body.Nonce); !errors.Is(err, verify.ErrWrongOrigin) {
		t.Errorf("token checked for another origin: %v, want ErrWrongOrigin", err)
	}

	// What the browser could not see: the agent refused that origin with
	// ORIGIN_NOT_ALLOWED.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = client.Dial(ctx, agentWS, client.Auth{Origin: other.URL})
	var he *client.HandshakeError
	if !errors.As(err, &he) || he.Status != http.StatusForbidden || he.Err == nil || he.Err.Code != bridge.CodeOriginNotAllowed {
		t.Errorf("dial from %s: %v, want 403 ORIGIN_NOT_ALLOWED", other.URL, err)
	}

	if strings.Contains(out, "isi: submitted") {
		journal, err := os.ReadFile(filepath.Join(a.stateDir, "proofs.jsonl"))
		if err != nil || !bytes.Contains(journal, []byte("85073003328")) {
			t.Errorf("ISI+ scan not in the agent's proof journal: %v", err)
		}
	}
}

func poolOf(certs ...*x509.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range certs {
		p.AddCert(c)
	}
	return p
}

// TestNodeClientAgainstAgent runs test/agent.test.mjs (the client in Node,
// with its Origin header set) against a real agent and a lab card.
func TestNodeClientAgainstAgent(t *testing.T) {
	node := requireNode(t)
	slot := lab.Slots(t)[0]
	p, err := virtual.Preset("citizen-1.8")
	if err != nil {
		t.Fatal(err)
	}
	trust := writeTrust(t, p)
	a := startAgent(t, func(string) []string {
		return []string{"--allow-origin", "http://127.0.0.1:1", "--allow-http-loopback-origins",
			"--grant", "http://127.0.0.1:1=card,identity,integrity", "--trust-root", trust}
	})
	in, err := vpcd.Insert(context.Background(), slot.Addr, virtual.New(p))
	if err != nil {
		t.Fatal(err)
	}
	defer in.Remove()
	// The node tests expect the card in the reader: wait until pcscd has it.
	sc, err := scard.EstablishContext()
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Release()
	lab.WaitCard(t, sc, slot.Reader, true)
	authCert, _ := p.Certificate(virtual.PathAuthCert)
	args := []string{"--test", "--test-reporter=tap", "test/agent.test.mjs"}
	// Node 20 has WebSocket behind a flag; later versions by default.
	if exec.Command(node, "-e", "process.exit(typeof WebSocket === 'function' ? 0 : 1)").Run() != nil {
		args = append([]string{"--experimental-websocket"}, args...)
	}
	out := runNode(t, node, []string{
		fmt.Sprintf("EID_AGENT_URL=ws://127.0.0.1:%d/ws", a.port),
		"EID_AGENT_ORIGIN=http://127.0.0.1:1",
		"EID_READER=" + slot.Reader,
		"EID_EXPECT_NN=" + authCert.Subject.SerialNumber,
		fmt.Sprintf("EID_CLOSED_PORT=%d", freePort(t)),
	}, args...)
	if !strings.Contains(out, "# fail 0") || strings.Contains(out, "# pass 0\n") || !strings.Contains(out, "# skipped 0") {
		t.Fatalf("node test summary:\n%s", out)
	}
	t.Logf("%s", lastLines(out, 8))
}

func tail64(b []byte) string {
	s := base64.StdEncoding.EncodeToString(b)
	return s[len(s)-60:]
}

// TestBrowserSimulator: the demo page against `run --simulate` (no PC/SC,
// no lab slot): the simulator controls and their keyboard shortcuts.
func TestBrowserSimulator(t *testing.T) {
	node := requireBrowser(t)
	a := startAgent(t, func(string) []string { return []string{"--simulate"} })
	env := []string{"EID_PAGE=" + a.origin + "/"}
	if d := os.Getenv("EID_SHOTS"); d != "" {
		env = append(env, "EID_SHOTS="+d)
	}
	out := runNode(t, node, env, "e2e/simulator.mjs")
	if !strings.Contains(out, "e2e: ok") {
		t.Fatalf("script did not finish:\n%s", out)
	}
}
