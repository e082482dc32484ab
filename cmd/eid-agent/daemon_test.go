package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/eid-agent/eid-agent/bridge"
	"github.com/eid-agent/eid-agent/bridge/client"
	"github.com/eid-agent/eid-agent/internal/agent"
	"github.com/eid-agent/eid-agent/internal/agent/audit"
	"github.com/eid-agent/eid-agent/internal/testkit"
)

// daemon is an `eid-agent run` process with its own configuration, state
// folder and logs, isolated from the user's.
type daemon struct {
	t     testing.TB
	cmd   *exec.Cmd
	url   string // ws://127.0.0.1:PORT/ws
	home  string
	state string
	env   []string
	mu    sync.Mutex
	logs  bytes.Buffer
	lines chan string
}

// isolatedEnv points every per-user path of the agent into dir.
func isolatedEnv(dir string) []string {
	env := []string{}
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "EID_AGENT_") || strings.HasPrefix(kv, "XDG_") || strings.HasPrefix(kv, "HOME=") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "HOME="+dir, "XDG_CONFIG_HOME="+filepath.Join(dir, "config"),
		"XDG_STATE_HOME="+filepath.Join(dir, "state"), "XDG_CACHE_HOME="+filepath.Join(dir, "cache"),
		"EID_AGENT_POLICY="+filepath.Join(dir, "no-policy.toml"))
}

// startDaemon runs `eid-agent run --listen 127.0.0.1:0 ARGS...` and waits
// for its listening line. config, when not empty, is written to the
// configuration file first.
func startDaemon(t testing.TB, config string, args ...string) *daemon {
	t.Helper()
	return startDaemonIn(t, t.TempDir(), config, args...)
}

// startDaemonIn is startDaemon with a given home folder (a restart).
func startDaemonIn(t testing.TB, home, config string, args ...string) *daemon {
	t.Helper()
	d := &daemon{t: t, home: home, state: filepath.Join(home, "state", "eid-agent"), env: isolatedEnv(home), lines: make(chan string, 100)}
	if config != "" {
		p := filepath.Join(home, "config", "eid-agent", "config.toml")
		os.MkdirAll(filepath.Dir(p), 0o700)
		if err := os.WriteFile(p, []byte(config), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	d.cmd = exec.Command(binary, append([]string{"run", "--listen", "127.0.0.1:0", "--log-format", "json", "--log-level", "debug"}, args...)...)
	d.cmd.Env = d.env
	out, err := d.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	errPipe, err := d.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if d.cmd.ProcessState == nil {
			d.cmd.Process.Kill()
			d.cmd.Wait()
		}
	})
	go func() {
		sc := bufio.NewScanner(errPipe)
		for sc.Scan() {
			d.mu.Lock()
			d.logs.WriteString(sc.Text() + "\n")
			d.mu.Unlock()
		}
	}()
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			d.lines <- sc.Text()
		}
		close(d.lines)
	}()
	deadline := time.After(30 * time.Second)
	for d.url == "" {
		select {
		case line, ok := <-d.lines:
			if !ok {
				t.Fatalf("agent exited before listening; logs:\n%s", d.Logs())
			}
			if i := strings.Index(line, "ws://"); i >= 0 {
				d.url = strings.TrimSpace(line[i:])
			}
		case <-deadline:
			t.Fatalf("agent not listening after 30 s; logs:\n%s", d.Logs())
		}
	}
	return d
}

func (d *daemon) Logs() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.logs.String()
}

func (d *daemon) dial(origin string) *client.Client {
	d.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, d.url, client.Auth{Origin: origin})
	if err != nil {
		d.t.Fatal(err)
	}
	d.t.Cleanup(func() { c.Close() })
	if _, err := c.Hello(ctx); err != nil {
		d.t.Fatal(err)
	}
	return c
}

// cli runs another eid-agent command against this daemon.
func (d *daemon) cli(args ...string) result {
	d.t.Helper()
	return execAgent(d.t, d.env, "", 60*time.Second, args...)
}

// status asks the agent over a raw websocket and checks the answer
// against the protocol schema.
func (d *daemon) status() agent.AgentStatus {
	d.t.Helper()
	tok, err := os.ReadFile(filepath.Join(d.state, agent.TokenFile))
	if err != nil {
		d.t.Fatal(err)
	}
	ws, _, err := websocket.DefaultDialer.Dial(d.url, http.Header{"Authorization": {"Bearer " + strings.TrimSpace(string(tok))}})
	if err != nil {
		d.t.Fatal(err)
	}
	defer ws.Close()
	var raw []byte
	for i, req := range []string{`{"id":1,"type":"hello","params":{"protocol":1}}`, `{"id":2,"type":"status"}`} {
		ws.WriteMessage(websocket.TextMessage, []byte(req))
		ws.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, b, err := ws.ReadMessage()
		if err != nil {
			d.t.Fatal(err)
		}
		if i == 1 {
			raw = b
		}
	}
	if err := testkit.ValidateSchema(bridge.Schema, "response-status", raw); err != nil {
		d.t.Errorf("status %s: %v", raw, err)
	}
	var r struct {
		Result struct{ Agent agent.AgentStatus }
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		d.t.Fatal(err)
	}
	return r.Result.Agent
}

// stop sends SIGTERM and returns the exit status.
func (d *daemon) stop() int {
	d.t.Helper()
	d.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- d.cmd.Wait() }()
	select {
	case err := <-done:
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		} else if err != nil {
			d.t.Fatal(err)
		}
		return 0
	case <-time.After(20 * time.Second):
		d.t.Fatalf("agent still running 20 s after SIGTERM; logs:\n%s", d.Logs())
		return -1
	}
}

func (d *daemon) audit() []audit.Entry {
	d.t.Helper()
	es, err := audit.ReadAll(filepath.Join(d.state, "audit.jsonl"))
	if err != nil {
		d.t.Fatal(err)
	}
	return es
}

// nextEvent waits for an event of typ (skipping others) on c.
func nextEvent(t testing.TB, c *client.Client, typ string, within time.Duration) client.Event {
	t.Helper()
	deadline := time.After(within)
	for {
		select {
		case e, ok := <-c.Events():
			if !ok {
				t.Fatalf("connection closed waiting for %s", typ)
			}
			if e.Event == typ {
				return e
			}
		case <-deadline:
			t.Fatalf("no %s event within %v", typ, within)
		}
	}
}

// closedWithin reports whether c's connection ends within d.
func closedWithin(c *client.Client, d time.Duration) bool {
	select {
	case <-c.Done():
		return true
	case <-time.After(d):
		return false
	}
}

func errorsAs(err error, target any) bool { return errors.As(err, target) }
