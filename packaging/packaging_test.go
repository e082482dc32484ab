package packaging

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/eid-agent/eid-agent/internal/installer"
	"github.com/eid-agent/eid-agent/internal/lab"
	"github.com/eid-agent/eid-agent/internal/testkit"
)

// TestShippedFiles: the unit and the policy sample the packages ship are
// exactly what the installer generates, so `install --system` and the
// package lay down the same things.
func TestShippedFiles(t *testing.T) {
	unit, err := installer.SystemdUnit("/usr/bin/eid-agent")
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string][]byte{"eid-agent.service": unit, "policy.toml": installer.PolicyTOML(nil)} {
		testkit.Golden(t, name, want)
	}
}

func TestScriptsParse(t *testing.T) {
	for _, s := range []string{"scripts/postinstall.sh", "scripts/preremove.sh", "build"} {
		sh := "sh"
		if s == "build" {
			sh = "bash"
		}
		if out, err := exec.Command(sh, "-n", s).CombinedOutput(); err != nil {
			t.Errorf("%s -n %s: %v\n%s", sh, s, err, out)
		}
	}
}

func need(t *testing.T, progs ...string) {
	t.Helper()
	for _, p := range progs {
		if _, err := exec.LookPath(p); err != nil {
			lab.Require(t, p+" is not installed")
		}
	}
}

// build runs packaging/build into a new directory, once per test binary
// (two builds for the reproducibility test).
var (
	buildMu   sync.Mutex
	buildDirs []string
)

func build(t *testing.T, n int) []string {
	t.Helper()
	need(t, "go", "git")
	buildMu.Lock()
	defer buildMu.Unlock()
	for len(buildDirs) < n {
		dir, err := os.MkdirTemp("", "eid-agent-pkg")
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("bash", "build", dir)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("packaging/build: %v\n%s", err, out)
		}
		buildDirs = append(buildDirs, dir)
	}
	return buildDirs[:n]
}

func TestMain(m *testing.M) {
	code := m.Run()
	for _, d := range buildDirs {
		os.RemoveAll(d)
	}
	os.Exit(code)
}

func glob1(t *testing.T, pattern string) string {
	t.Helper()
	m, _ := filepath.Glob(pattern)
	if len(m) != 1 {
		t.Fatalf("%s: %v", pattern, m)
	}
	return m[0]
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %q: %v\n%s", name, args, err, out)
	}
	return string(out)
}

// TestReproducible: two builds of the same tree give byte-identical
// packages.
func TestReproducible(t *testing.T) {
	dirs := build(t, 2)
	for _, pat := range []string{"*.deb", "*.rpm", "eid-agent"} {
		a, err := os.ReadFile(glob1(t, filepath.Join(dirs[0], pat)))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(glob1(t, filepath.Join(dirs[1], pat)))
		if !bytes.Equal(a, b) {
			t.Errorf("%s differs between two builds (%x vs %x)", pat, sha256.Sum256(a), sha256.Sum256(b))
		}
	}
}

// TestDeb: what the .deb declares and holds, its maintainer scripts, and
// the generated unit verified by systemd-analyze against the built binary.
func TestDeb(t *testing.T) {
	need(t, "dpkg-deb", "systemd-analyze")
	dir := build(t, 1)[0]
	deb := glob1(t, filepath.Join(dir, "*.deb"))

	info := run(t, "dpkg-deb", "-I", deb)
	for _, want := range []string{"Package: eid-agent", "Depends: pcscd, libpcsclite1",
		"Recommends: opensc-pkcs11 | eid-mw | beid-mw", "Architecture: ", " postinst ", " prerm ", " conffiles "} {
		if !strings.Contains(info, want) {
			t.Errorf("dpkg-deb -I lacks %q:\n%s", want, info)
		}
	}
	var files []string
	for _, l := range strings.Split(run(t, "dpkg-deb", "-c", deb), "\n") {
		if f := strings.Fields(l); len(f) == 6 && !strings.HasSuffix(f[5], "/") {
			files = append(files, f[0]+" "+f[5])
		}
	}
	want := []string{
		"-rw-r--r-- ./etc/eid-agent/policy.toml",
		"-rwxr-xr-x ./usr/bin/eid-agent",
		"-rw-r--r-- ./usr/lib/systemd/user/eid-agent.service",
		"-rw-r--r-- ./usr/share/doc/eid-agent/config.example.toml",
		"-rw-r--r-- ./usr/share/doc/eid-agent/installer.md",
	}
	if !slices.Equal(files, want) {
		t.Errorf("dpkg-deb -c:\n%s\nwant\n%s", strings.Join(files, "\n"), strings.Join(want, "\n"))
	}

	x := t.TempDir()
	run(t, "dpkg-deb", "-x", deb, x)
	unit, _ := installer.SystemdUnit("/usr/bin/eid-agent")
	if got, _ := os.ReadFile(filepath.Join(x, "usr/lib/systemd/user/eid-agent.service")); !bytes.Equal(got, unit) {
		t.Errorf("packaged unit:\n%s", got)
	}
	if got, _ := os.ReadFile(filepath.Join(x, "etc/eid-agent/policy.toml")); !bytes.Equal(got, installer.PolicyTOML(nil)) {
		t.Errorf("packaged policy:\n%s", got)
	}
	bin := filepath.Join(x, "usr/bin/eid-agent")
	if out := run(t, bin, "version"); !strings.HasPrefix(out, "eid-agent ") {
		t.Errorf("packaged binary: %q", out)
	}

	ctl := t.TempDir()
	run(t, "dpkg-deb", "-e", deb, ctl)
	if got, _ := os.ReadFile(filepath.Join(ctl, "conffiles")); strings.TrimSpace(string(got)) != "/etc/eid-agent/policy.toml" {
		t.Errorf("conffiles: %q", got)
	}
	for _, s := range []string{"postinst", "prerm"} {
		run(t, "sh", "-n", filepath.Join(ctl, s))
	}

	// systemd-analyze verify needs ExecStart to exist: the unit for the
	// extracted binary, in system and in user mode.
	u, err := installer.SystemdUnit(bin)
	if err != nil {
		t.Fatal(err)
	}
	ud := t.TempDir()
	unitPath := filepath.Join(ud, "eid-agent.service")
	os.WriteFile(unitPath, u, 0o644)
	rt := t.TempDir()
	for _, args := range [][]string{{"verify", unitPath}, {"--user", "verify", unitPath}} {
		cmd := exec.Command("systemd-analyze", args...)
		cmd.Env = append(os.Environ(), "XDG_RUNTIME_DIR="+rt)
		if out, err := cmd.CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) != 0 {
			t.Errorf("systemd-analyze %q: %v\n%s", args, err, out)
		}
	}
	// And verify does catch a broken unit (the check can fail).
	os.WriteFile(unitPath, bytes.Replace(u, []byte(bin), []byte("/nonexistent/eid-agent"), 1), 0o644)
	if out, err := exec.Command("systemd-analyze", "verify", unitPath).CombinedOutput(); err == nil {
		t.Errorf("systemd-analyze accepted a unit whose binary is missing:\n%s", out)
	}
}

// tree lists the paths under root (but dpkg's own database) with mode
// and digest.
func tree(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if rel == "var/lib/dpkg" {
			return filepath.SkipDir
		}
		fi, _ := os.Lstat(p)
		line := rel + " " + fi.Mode().String()
		if fi.Mode().IsRegular() {
			b, _ := os.ReadFile(p)
			line += fmt.Sprintf(" %x", sha256.Sum256(b))
		} else if fi.Mode()&fs.ModeSymlink != 0 {
			l, _ := os.Readlink(p)
			line += " -> " + l
		}
		out = append(out, line)
		return nil
	})
	return out
}

// TestDebInstall: dpkg installs the package into a throwaway root, the
// postinst enables the global user unit there (systemctl --root, through
// DPKG_ROOT), an upgrade (reinstall) keeps it enabled and keeps an edited
// policy, and dpkg --purge leaves the root as it was.
func TestDebInstall(t *testing.T) {
	need(t, "dpkg", "systemctl")
	deb := glob1(t, filepath.Join(build(t, 1)[0], "*.deb"))
	root := t.TempDir()
	for _, d := range []string{"var/lib/dpkg/info", "var/lib/dpkg/updates", "var/lib/dpkg/triggers", "etc/systemd/user", "usr/bin"} {
		os.MkdirAll(filepath.Join(root, d), 0o755)
	}
	os.WriteFile(filepath.Join(root, "var/lib/dpkg/status"), nil, 0o644)
	// Another program, as on a real system: dpkg removes the directories
	// the package lists when they end up empty.
	os.WriteFile(filepath.Join(root, "usr/bin/other"), []byte("x"), 0o755)
	before := tree(t, root)
	dpkg := func(args ...string) string {
		// Dependencies (pcscd, libpcsclite1) are not in the empty root;
		// scripts run outside a chroot with DPKG_ROOT set.
		return run(t, "dpkg", append([]string{"--root=" + root, "--force-not-root", "--force-depends", "--force-script-chrootless"}, args...)...)
	}
	dpkg("-i", deb)
	link := filepath.Join(root, "etc/systemd/user/default.target.wants/eid-agent.service")
	if got, err := os.Readlink(link); err != nil || got != "/usr/lib/systemd/user/eid-agent.service" {
		t.Errorf("postinst did not enable the global user unit: %q %v", got, err)
	}
	policy := filepath.Join(root, "etc/eid-agent/policy.toml")
	os.WriteFile(policy, []byte("allowed_origins = [\"https://edited.example\"]\n"), 0o644)
	dpkg("-i", deb) // an upgrade: prerm "upgrade" must not disable
	if _, err := os.Readlink(link); err != nil {
		t.Errorf("reinstall disabled the unit: %v", err)
	}
	if got, _ := os.ReadFile(policy); !strings.Contains(string(got), "edited.example") {
		t.Error("reinstall replaced the edited policy (conffile)")
	}
	dpkg("-r", "eid-agent")
	if _, err := os.Lstat(link); err == nil {
		t.Error("prerm did not disable the unit")
	}
	if _, err := os.Stat(policy); err != nil {
		t.Error("remove (not purge) deleted the policy")
	}
	dpkg("-P", "eid-agent")
	if after := tree(t, root); !slices.Equal(after, before) {
		t.Errorf("after purge:\n%s\nbefore:\n%s", strings.Join(after, "\n"), strings.Join(before, "\n"))
	}
}

// TestRPM: the .rpm's dependencies and files, read with rpm itself.
func TestRPM(t *testing.T) {
	need(t, "rpm")
	rpm := glob1(t, filepath.Join(build(t, 1)[0], "*.rpm"))
	list := run(t, "rpm", "-qpl", rpm)
	for _, f := range []string{"/usr/bin/eid-agent", "/usr/lib/systemd/user/eid-agent.service", "/etc/eid-agent/policy.toml"} {
		if !strings.Contains(list, f+"\n") {
			t.Errorf("rpm -qpl lacks %s:\n%s", f, list)
		}
	}
	req := run(t, "rpm", "-qp", "--requires", rpm)
	for _, d := range []string{"pcsc-lite", "pcsc-lite-libs"} {
		if !strings.Contains(req, d+"\n") {
			t.Errorf("rpm requires lacks %s:\n%s", d, req)
		}
	}
	if cfg := run(t, "rpm", "-qpc", rpm); strings.TrimSpace(cfg) != "/etc/eid-agent/policy.toml" {
		t.Errorf("rpm config files: %q", cfg)
	}
	if scripts := run(t, "rpm", "-qp", "--scripts", rpm); !strings.Contains(scripts, "systemctl --global enable") || !strings.Contains(scripts, "systemctl --global disable") {
		t.Errorf("rpm scripts:\n%s", scripts)
	}
}
