package main

import (
	"crypto/sha256"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/eid-agent/eid-agent/internal/agent/config"
	"github.com/eid-agent/eid-agent/internal/installer"
)

// tree lists every path under root with its mode and content digest.
func tree(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		line := rel + " " + fi.Mode().String()
		if fi.Mode().IsRegular() {
			data, _ := os.ReadFile(p)
			line += fmt.Sprintf(" %x", sha256.Sum256(data))
		} else if fi.Mode()&fs.ModeSymlink != 0 {
			dst, _ := os.Readlink(p)
			line += " -> " + dst
		}
		out = append(out, line)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestInstallCommand: install --user as a user runs it, into a temporary
// HOME, with the real systemctl (no session bus: enable works, start is a
// warning); install again changes nothing; tls status sees the
// certificate; uninstall --purge restores the HOME exactly.
func TestInstallCommand(t *testing.T) {
	env, home := doctorEnv(t)
	os.WriteFile(filepath.Join(home, ".profile"), []byte("mine"), 0o644)
	before := tree(t, home)
	// The pcscd prerequisite looks where libpcsclite would connect
	// (PCSCLITE_CSOCK_NAME): a socket of the test's own, or none, so the
	// outcome does not depend on whether this machine's pcscd listens.
	noPCSC := append(slices.Clone(env), "PCSCLITE_CSOCK_NAME="+filepath.Join(t.TempDir(), "pcscd.comm"))
	env = append(env, "PCSCLITE_CSOCK_NAME="+listenUnix(t))

	r := runEnv(t, noPCSC, "install", "--user", "--binary", binary)
	if r.code != exitFailure || !strings.Contains(r.stderr, "a prerequisite is missing") || !strings.Contains(r.stdout, "pcscd") {
		t.Errorf("install without pcscd: %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if !slices.Equal(tree(t, home), before) {
		t.Fatal("a refused install changed the home")
	}

	r = runEnv(t, env, "install", "--dry-run", "--binary", binary)
	if r.code != 0 || !strings.Contains(r.stdout, "write    "+filepath.Join(home, ".config/systemd/user/eid-agent.service")) {
		t.Fatalf("dry run: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if !slices.Equal(tree(t, home), before) {
		t.Fatal("--dry-run changed the home")
	}

	r = runEnv(t, env, "install", "--user", "--binary", binary)
	if r.code != 0 {
		t.Fatalf("install: %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"OK    pcscd", "wrote     " + filepath.Join(home, ".config/systemd/user/eid-agent.service"),
		"ran       systemctl --user enable eid-agent.service", "tls/server-key.pem"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("install output lacks %q:\n%s", want, r.stdout)
		}
	}
	unit, _ := os.ReadFile(filepath.Join(home, ".config/systemd/user/eid-agent.service"))
	if !strings.Contains(string(unit), "ExecStart="+binary+" run\n") {
		t.Errorf("unit:\n%s", unit)
	}
	installed := tree(t, home)
	if r = runEnv(t, env, "install", "--user", "--binary", binary); r.code != 0 || strings.Contains(r.stdout, "wrote") {
		t.Errorf("second install: %d\n%s", r.code, r.stdout)
	}
	if !slices.Equal(tree(t, home), installed) {
		t.Error("second install changed the home")
	}
	if r = runEnv(t, env, "tls", "status"); r.code != 0 || !strings.Contains(r.stdout, "eid-agent local CA") {
		t.Errorf("tls status: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if r = runEnv(t, env, "tls", "init"); r.code != 1 || !strings.Contains(r.stderr, "already exists") {
		t.Errorf("tls init over existing material: %d %s", r.code, r.stderr)
	}
	if r = runEnv(t, env, "uninstall", "--purge"); r.code != 0 {
		t.Fatalf("uninstall: %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if after := tree(t, home); !slices.Equal(after, before) {
		t.Errorf("after uninstall --purge:\n%s\nbefore:\n%s", strings.Join(after, "\n"), strings.Join(before, "\n"))
	}
	if r = runEnv(t, env, "uninstall"); r.code != 0 || !strings.Contains(r.stdout, "nothing to do") {
		t.Errorf("uninstall when not installed: %d %s", r.code, r.stdout)
	}
}

// listenUnix listens on a Unix socket in a temporary directory until the
// test ends, and returns its path.
func listenUnix(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "pcscd.comm")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return path
}

// TestInstallSystemCommand: --system into a --root, with the browser
// policy; uninstall --purge empties the root again.
func TestInstallSystemCommand(t *testing.T) {
	env, _ := doctorEnv(t)
	root := t.TempDir()
	r := runEnv(t, env, "install", "--system", "--root", root, "--binary", "/usr/bin/eid-agent",
		"--allow-origin", "https://admission.hospital.example", "--browser-policy")
	if r.code != 0 {
		t.Fatalf("install: %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for _, p := range []string{"etc/systemd/user/eid-agent.service", "etc/systemd/user/default.target.wants/eid-agent.service",
		"etc/eid-agent/policy.toml", "etc/chromium/policies/managed/eid-agent.json", "etc/opt/chrome/policies/managed/eid-agent.json",
		"var/lib/eid-agent/install-manifest.json"} {
		if _, err := os.Lstat(filepath.Join(root, p)); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
	if r = runEnv(t, env, "install", "--system", "--root", root, "--allow-origin", "http://x.example"); r.code != exitUsage {
		t.Errorf("http origin: %d %s", r.code, r.stderr)
	}
	if r = runEnv(t, env, "uninstall", "--system", "--root", root, "--purge"); r.code != 0 {
		t.Fatalf("uninstall: %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if left := tree(t, root); len(left) != 1 {
		t.Errorf("left in root: %q", left)
	}
}

// TestPolicyFileLoads: the policy the installer writes is read by the
// agent's configuration loader as the policy file.
func TestPolicyFileLoads(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("EID_AGENT_CONFIG", filepath.Join(dir, "none.toml"))
	t.Setenv("XDG_CONFIG_HOME", dir)
	t.Setenv("EID_AGENT_ALLOWED_ORIGINS", "")
	for _, origins := range [][]string{nil, {"https://admission.hospital.example", "https://lab.hospital.example:8443"}} {
		p := filepath.Join(dir, "policy.toml")
		os.WriteFile(p, installer.PolicyTOML(origins), 0o644)
		t.Setenv("EID_AGENT_POLICY", p)
		c, err := config.Load("")
		if err != nil {
			t.Fatalf("%v", err)
		}
		if !slices.Equal(c.AllowedOrigins, origins) {
			t.Errorf("allowed origins %q, want %q", c.AllowedOrigins, origins)
		}
	}
}
