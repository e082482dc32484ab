package main

import (
	"bufio"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/eid-agent/eid-agent/bridge"
	"github.com/eid-agent/eid-agent/bridge/client"
	"github.com/eid-agent/eid-agent/internal/lab"
)

// TestRunSecondUser is a shared machine with two users logged in (a
// terminal server, remote desktops): the first user's agent (uid 65534
// here) holds the port. The second user's page reaching it is refused
// (OTHER_USER: it must not be served the first user's card), and the
// second user's agent does not start beside it: it exits saying the port
// is another user's and how to give each session its own port. On Linux
// the holder is found through /proc/net/tcp; on Windows the same message
// comes from GetExtendedTcpTable and the owner's token (compile-checked
// only: docs/installer.md).
func TestRunSecondUser(t *testing.T) {
	if os.Getuid() != 0 {
		lab.Require(t, "running an agent as another user needs root")
	}
	// A copy of the binary and a home that uid 65534 can use.
	dir, err := os.MkdirTemp("", "eid-agent-second-user")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	bin := filepath.Join(dir, "eid-agent")
	b, _ := os.ReadFile(binary)
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	home := filepath.Join(dir, "home")
	os.Mkdir(home, 0o700)
	if err := os.Chown(home, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	const app = "https://app.example"
	first := exec.Command(bin, "run", "--simulate", "--listen", "127.0.0.1:0", "--allow-origin", app, "--grant", app+"=identity")
	first.Env = isolatedEnv(home)
	first.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, _ := first.StdoutPipe()
	first.Stderr = os.Stderr
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { first.Process.Kill(); first.Wait() })
	url := ""
	sc := bufio.NewScanner(out)
	for url == "" && sc.Scan() {
		if i := strings.Index(sc.Text(), "ws://"); i >= 0 {
			url = strings.TrimSpace(sc.Text()[i:])
		}
	}
	if url == "" {
		t.Fatal("the first user's agent did not start")
	}
	addr := strings.TrimSuffix(strings.TrimPrefix(url, "ws://"), "/ws")

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = client.Dial(ctx, url, client.Auth{Origin: app})
	var he *client.HandshakeError
	if !errors.As(err, &he) || he.Status != 403 || he.Err == nil || he.Err.Code != bridge.CodeOtherUser {
		t.Errorf("the second user's page at the first user's agent: %v", err)
	}

	home2 := t.TempDir()
	r := execAgent(t, isolatedEnv(home2), "", 30*time.Second, "run", "--simulate", "--listen", addr, "--allow-origin", app)
	if r.code != exitFailure {
		t.Errorf("second agent: exit %d", r.code)
	}
	for _, want := range []string{addr + " is held by another user's program (uid 65534)", "its own port", "docs/installer.md"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("second agent's message lacks %q:\n%s", want, r.stderr)
		}
	}
	t.Log(strings.TrimSpace(r.stderr))
}
