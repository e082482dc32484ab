package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eid-agent/eid-agent/bridge"
	"github.com/eid-agent/eid-agent/bridge/client"
	"github.com/eid-agent/eid-agent/internal/lab"
)

// TestRun starts `eid-agent run` as a process, talks to it with a real
// websocket client, checks that a foreign origin is refused, and stops it
// with SIGTERM.
func TestRun(t *testing.T) {
	slots := lab.Slots(t)
	const app = "https://app.example:8443"
	d := startDaemon(t, "", "--allow-origin", app, "--grant", app+"=identity,authenticate")
	c := d.dial(app)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var rs struct{ Readers []bridge.ReaderInfo }
	if err := c.Call(ctx, "readers", nil, &rs); err != nil {
		t.Fatal(err)
	}
	for _, s := range slots {
		if !slices.ContainsFunc(rs.Readers, func(r bridge.ReaderInfo) bool { return r.Name == s.Reader }) {
			t.Errorf("reader %q missing from %+v", s.Reader, rs.Readers)
		}
	}
	_, err := client.Dial(ctx, d.url, client.Auth{Origin: "https://evil.example"})
	var he *client.HandshakeError
	if !errors.As(err, &he) || he.Status != 403 {
		t.Errorf("foreign origin: %v", err)
	}
	if code := d.stop(); code != 0 {
		t.Errorf("SIGTERM: exit %d", code)
	}
}

// TestRunBadConfiguration: a configuration error stops the agent before it
// listens, with the file and line on stderr and exit status 2; `config
// check` reports the same problems.
func TestRunBadConfiguration(t *testing.T) {
	home := t.TempDir()
	d := &daemon{t: t, env: isolatedEnv(home)}
	if r := d.cli("run", "--listen", "0.0.0.0:8877"); r.code != exitUsage || !strings.Contains(r.stderr, "loopback") {
		t.Errorf("network listen: %+v", r)
	}
	cfg := filepath.Join(home, "config", "eid-agent", "config.toml")
	os.MkdirAll(filepath.Dir(cfg), 0o700)
	os.WriteFile(cfg, []byte("# counter PC\nallowed_origins = [\"https://*.hospital.example\"]\nlog_levle = \"debug\"\n"), 0o600)
	r := d.cli("run")
	if r.code != exitUsage || !strings.Contains(r.stderr, "config.toml:2: allowed_origins") || !strings.Contains(r.stderr, "config.toml:3: log_levle: unknown key") {
		t.Errorf("run with a bad file: %+v", r)
	}
	if r := d.cli("config", "check"); r.code != exitFailure || !strings.Contains(r.stderr, "2 problem(s)") {
		t.Errorf("config check: %+v", r)
	}
	os.WriteFile(cfg, []byte("allowed_origins = [\"https://hospital.example\"]\n"), 0o600)
	if r := d.cli("config", "check"); r.code != 0 || !strings.Contains(r.stdout, "OK") {
		t.Errorf("config check of a good file: %+v", r)
	}
}
