package main

import (
	"bufio"
	"context"
	"errors"
	"os/exec"
	"strings"
	"syscall"
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
	cmd := exec.Command(binary, "run", "--listen", "127.0.0.1:0", "--allow-origin", app, "--grant", app+"=identity,authenticate")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	i := strings.Index(line, "ws://")
	if i < 0 {
		t.Fatalf("no URL in %q", line)
	}
	url := strings.TrimSpace(line[i:])

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, url, client.Auth{Origin: app})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Hello(ctx); err != nil {
		t.Fatal(err)
	}
	var rs struct{ Readers []bridge.ReaderInfo }
	if err := c.Call(ctx, "readers", nil, &rs); err != nil {
		t.Fatal(err)
	}
	if len(rs.Readers) != len(slots) {
		t.Errorf("%d readers, the lab has %d", len(rs.Readers), len(slots))
	}
	c.Close()

	_, err = client.Dial(ctx, url, client.Auth{Origin: "https://evil.example"})
	var he *client.HandshakeError
	if !errors.As(err, &he) || he.Status != 403 {
		t.Errorf("foreign origin: %v", err)
	}

	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Errorf("SIGTERM: %v", err)
	}
}
