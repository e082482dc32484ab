package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eid-agent/eid-agent/internal/installer"
	"github.com/eid-agent/eid-agent/internal/lab"
	"github.com/eid-agent/eid-agent/internal/virtual"
)

// doctorEnv is an environment with its own HOME, configuration, state
// and runtime directories, no session bus and no system policy, so the
// command under test sees nothing of the developer's machine but pcscd.
func doctorEnv(t *testing.T) (env []string, home string) {
	t.Helper()
	home = t.TempDir()
	rt := t.TempDir()
	env = []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + home,
		"XDG_CONFIG_HOME=" + filepath.Join(home, ".config"), "XDG_STATE_HOME=" + filepath.Join(home, ".local/state"),
		"XDG_RUNTIME_DIR=" + rt, "DBUS_SESSION_BUS_ADDRESS=unix:path=" + filepath.Join(rt, "no-bus"),
		"EID_AGENT_POLICY=" + filepath.Join(home, "no-policy.toml"),
	}
	return env, home
}

func runEnv(t *testing.T, env []string, args ...string) result {
	t.Helper()
	return execAgent(t, env, "", 60*time.Second, args...)
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

// TestDoctor runs the real command against the lab's pcscd and a running
// agent: every lab reader is reported (the one holding a virtual card as
// a Belgian eID), the agent is found on its configured port, the
// configuration and its allow-list are checked; then with the agent
// stopped and a foreign origin the same lines turn WARN/FAIL with fixes.
func TestDoctor(t *testing.T) {
	slots := lab.Slots(t)
	slot := slots[len(slots)-1]
	card, err := virtual.Preset("citizen-1.8")
	if err != nil {
		t.Fatal(err)
	}
	insertCard(t, slot, card)
	env, home := doctorEnv(t)
	port := freePort(t)
	cfgDir := filepath.Join(home, ".config", "eid-agent")
	os.MkdirAll(cfgDir, 0o700)
	cfgFile := filepath.Join(cfgDir, "config.toml")
	os.WriteFile(cfgFile, []byte(fmt.Sprintf("listen = [\"127.0.0.1:%d\"]\nallowed_origins = [\"https://app.example\"]\n", port)), 0o600)

	agent := exec.Command(binary, "run")
	agent.Env = env
	out, _ := agent.StdoutPipe()
	agent.Stderr = os.Stderr
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	defer agent.Process.Kill()
	if line, err := bufio.NewReader(out).ReadString('\n'); err != nil || !strings.Contains(line, fmt.Sprint(port)) {
		t.Fatalf("agent start: %q %v", line, err)
	}

	r := runEnv(t, env, "doctor", "--json")
	var rep installer.DoctorReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("%v: %s %s", err, r.stdout, r.stderr)
	}
	got := map[string]installer.Result{}
	for _, c := range rep.Checks {
		got[c.Name] = c
	}
	if c := got["readers"]; c.Status != installer.OK || !strings.Contains(c.Detail, fmt.Sprintf("%d readers", len(slots))) {
		t.Errorf("readers: %+v", c)
	}
	for _, s := range slots {
		want := s.Reader + " (no card)"
		if s == slot {
			want = s.Reader + " (Belgian eID 1.8)"
		}
		if !strings.Contains(got["readers"].Detail, want) {
			t.Errorf("readers line lacks %q: %s", want, got["readers"].Detail)
		}
	}
	for name, want := range map[string]string{
		"pcscd":      "pcscd",
		"port":       fmt.Sprintf("the agent answers on ws://127.0.0.1:%d", port),
		"config":     "read " + cfgFile,
		"allow-list": "1 allowed: https://app.example",
	} {
		if c := got[name]; c.Status != installer.OK || !strings.Contains(c.Detail, want) {
			t.Errorf("%s: %+v, want OK with %q", name, c, want)
		}
	}
	if (r.code == 0) != installer.AllOK(rep.Checks) || rep.Status != installer.Worst(rep.Checks) {
		t.Errorf("exit %d with status %s", r.code, rep.Status)
	}

	agent.Process.Kill()
	agent.Wait()
	r = runEnv(t, env, "doctor")
	for _, want := range []string{"WARN  port", "nothing listens on 127.0.0.1:" + fmt.Sprint(port), "fix: systemctl --user start eid-agent",
		"WARN  tls", "fix: eid-agent tls init"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("doctor output lacks %q:\n%s", want, r.stdout)
		}
	}
	os.WriteFile(cfgFile, []byte("allowed_origins = [\"https://app.example/login\"]\n"), 0o600)
	r = runEnv(t, env, "doctor")
	if r.code != 1 {
		t.Errorf("doctor with problems exited %d", r.code)
	}
	for _, want := range []string{"FAIL  config", cfgFile + ":1", "fix: correct the file", "WARN  allow-list  not checked"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("doctor output lacks %q:\n%s", want, r.stdout)
		}
	}
}
