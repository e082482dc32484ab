package installer

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eid-agent/eid-agent/internal/clock"

	"github.com/eid-agent/eid-agent/internal/lab"
	"github.com/eid-agent/eid-agent/internal/loopbackca"
)

// snapshot records every path under root: type, mode, content digest or
// link target, and with mtimes the files' modification times.
func snapshot(t *testing.T, root string, mtimes bool) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		desc := fi.Mode().String()
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			desc += " -> " + target
		case fi.Mode().IsRegular():
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			desc += fmt.Sprintf(" %x", sha256.Sum256(data))
			if mtimes {
				desc += " " + fi.ModTime().Format(time.RFC3339Nano)
			}
		}
		out[rel] = desc
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// diff lists the paths whose entries differ between a and b.
func diff(a, b map[string]string) []string {
	var d []string
	for _, k := range slices.Sorted(maps.Keys(a)) {
		if b[k] != a[k] {
			d = append(d, k)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(b)) {
		if _, ok := a[k]; !ok {
			d = append(d, k)
		}
	}
	slices.Sort(d)
	return slices.Compact(d)
}

// systemctlRunner runs the real systemctl (and only it) with HOME and
// XDG_CONFIG_HOME pointing into the test's home and no session bus, so
// enable/disable work offline and everything else fails as it does in an
// SSH session, without ever reaching the developer's own user manager.
type systemctlRunner struct {
	env   []string
	calls []string
}

func newSystemctlRunner(t *testing.T, home string) *systemctlRunner {
	t.Helper()
	if _, err := exec.LookPath("systemctl"); err != nil {
		lab.Require(t, "systemctl is not installed")
	}
	rt := t.TempDir()
	return &systemctlRunner{env: []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + home, "XDG_CONFIG_HOME=" + filepath.Join(home, ".config"),
		"XDG_RUNTIME_DIR=" + rt, "DBUS_SESSION_BUS_ADDRESS=unix:path=" + filepath.Join(rt, "no-bus"),
	}}
}

func (r *systemctlRunner) Run(ctx context.Context, args []string) ([]byte, error) {
	r.calls = append(r.calls, strings.Join(args, " "))
	if args[0] != "systemctl" {
		return nil, fmt.Errorf("test runner: %s: %w", args[0], exec.ErrNotFound)
	}
	return ExecRunner{Env: r.env}.Run(ctx, args)
}

func userTarget(home string) Target {
	return Target{OS: "linux", Scope: User, Binary: "/usr/bin/eid-agent", Home: home,
		Env: func(k string) string {
			if k == "XDG_CONFIG_HOME" {
				return filepath.Join(home, ".config")
			}
			return ""
		}}
}

func install(t *testing.T, in *Installer, tg Target, opts Options) *Report {
	t.Helper()
	p, err := NewPlan(tg, opts)
	if err != nil {
		t.Fatal(err)
	}
	r, err := in.Install(context.Background(), p, opts)
	if err != nil {
		t.Fatalf("install: %v (report %+v)", err, r)
	}
	return r
}

// TestUserInstall: install --user into a temporary HOME with the real
// systemctl; install again changes nothing (not even an mtime); uninstall
// leaves the tree as it was except the configuration; --purge leaves it
// exactly as it was.
func TestUserInstall(t *testing.T) {
	home := t.TempDir()
	// What the user already has must survive everything.
	for _, f := range []string{".config/other/app.conf", ".bashrc", ".local/share/x"} {
		os.MkdirAll(filepath.Join(home, filepath.Dir(f)), 0o755)
		os.WriteFile(filepath.Join(home, f), []byte("mine"), 0o644)
	}
	before := snapshot(t, home, false)
	run := newSystemctlRunner(t, home)
	in := &Installer{Runner: run}
	tg := userTarget(home)
	opts := Options{TLS: true}
	r := install(t, in, tg, opts)

	unit := filepath.Join(home, ".config/systemd/user/eid-agent.service")
	want, _ := SystemdUnit("/usr/bin/eid-agent")
	if got, err := os.ReadFile(unit); err != nil || string(got) != string(want) {
		t.Fatalf("unit: %v\n%s", err, got)
	}
	if link, err := os.Readlink(filepath.Join(home, ".config/systemd/user/default.target.wants/eid-agent.service")); err != nil || link != unit {
		t.Errorf("systemctl --user enable did not link the unit: %q %v (calls %q, warnings %q)", link, err, run.calls, r.Warnings)
	}
	tlsDir := filepath.Join(home, ".config/eid-agent/tls")
	if _, err := loopbackca.Load(tlsDir, clock.Now()); err != nil {
		t.Errorf("TLS material: %v", err)
	}
	if !slices.Contains(r.Ran, "systemctl --user enable eid-agent.service") {
		t.Errorf("enable not run: %q", r.Ran)
	}
	for _, w := range r.Warnings {
		if !strings.Contains(w, "later, in the user's session") {
			t.Errorf("warning for a required step: %s", w)
		}
	}

	first := snapshot(t, home, true)
	r2 := install(t, in, tg, opts)
	if len(r2.Written) != 0 {
		t.Errorf("second install wrote %q", r2.Written)
	}
	if d := diff(first, snapshot(t, home, true)); len(d) != 0 {
		t.Errorf("second install changed %q", d)
	}

	ur, err := in.Uninstall(context.Background(), tg, false)
	if err != nil {
		t.Fatalf("uninstall: %v (%+v)", err, ur)
	}
	d := diff(before, snapshot(t, home, false))
	wantDiff := []string{".config/eid-agent", ".config/eid-agent/tls", ".config/eid-agent/tls/ca.pem",
		".config/eid-agent/tls/server-key.pem", ".config/eid-agent/tls/server.pem"}
	if !slices.Equal(d, wantDiff) {
		t.Errorf("after uninstall without --purge, differences %q, want only the configuration %q", d, wantDiff)
	}
	if _, err := in.Uninstall(context.Background(), tg, false); !errors.Is(err, ErrNotInstalled) {
		t.Errorf("second uninstall: %v, want ErrNotInstalled", err)
	}

	// A fresh home: install then uninstall --purge restores it exactly.
	home2 := t.TempDir()
	os.WriteFile(filepath.Join(home2, ".profile"), []byte("mine"), 0o644)
	before2 := snapshot(t, home2, false)
	in2 := &Installer{Runner: newSystemctlRunner(t, home2)}
	install(t, in2, userTarget(home2), opts)
	if _, err := in2.Uninstall(context.Background(), userTarget(home2), true); err != nil {
		t.Fatal(err)
	}
	if d := diff(before2, snapshot(t, home2, false)); len(d) != 0 {
		t.Errorf("after uninstall --purge, differences %q", d)
	}
}

// TestSystemInstall: install --system into a temporary root, with the
// real systemctl --root --global; the administrator's edit of the policy
// survives a reinstall and an uninstall, the browser policies do not
// outlive the agent.
func TestSystemInstall(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "etc/chromium/policies/managed"), 0o755)
	os.WriteFile(filepath.Join(root, "etc/chromium/policies/managed/other.json"), []byte("{}"), 0o644)
	before := snapshot(t, root, false)
	run := newSystemctlRunner(t, t.TempDir())
	in := &Installer{Runner: run}
	tg := Target{OS: "linux", Scope: System, Binary: "/usr/bin/eid-agent", Root: root}
	opts := Options{AllowedOrigins: []string{"https://admission.hospital.example"}, BrowserPolicy: true}
	install(t, in, tg, opts)
	if link, err := os.Readlink(filepath.Join(root, "etc/systemd/user/default.target.wants/eid-agent.service")); err != nil || link != "/etc/systemd/user/eid-agent.service" {
		t.Errorf("systemctl --global enable: %q %v (calls %q)", link, err, run.calls)
	}
	for _, p := range []string{"etc/chromium/policies/managed/eid-agent.json", "etc/opt/chrome/policies/managed/eid-agent.json"} {
		if got, err := os.ReadFile(filepath.Join(root, p)); err != nil || string(got) != string(ChromePolicy(opts.AllowedOrigins)) {
			t.Errorf("%s: %v %s", p, err, got)
		}
	}
	policy := filepath.Join(root, "etc/eid-agent/policy.toml")
	os.WriteFile(policy, []byte("allowed_origins = [\"https://edited.example\"]\n"), 0o644)
	r := install(t, in, tg, opts)
	if !slices.Contains(r.Kept, "/etc/eid-agent/policy.toml") {
		t.Errorf("edited policy not kept: %+v", r)
	}
	if _, err := in.Uninstall(context.Background(), tg, false); err != nil {
		t.Fatal(err)
	}
	if d := diff(before, snapshot(t, root, false)); !slices.Equal(d, []string{"etc/eid-agent", "etc/eid-agent/policy.toml"}) {
		t.Errorf("after uninstall, differences %q, want only the policy", d)
	}
	if got, _ := os.ReadFile(policy); !strings.Contains(string(got), "edited.example") {
		t.Error("uninstall changed the edited policy")
	}

	root2 := t.TempDir()
	before2 := snapshot(t, root2, false)
	tg.Root = root2
	install(t, in, tg, opts)
	if _, err := in.Uninstall(context.Background(), tg, true); err != nil {
		t.Fatal(err)
	}
	if d := diff(before2, snapshot(t, root2, false)); len(d) != 0 {
		t.Errorf("after uninstall --purge, differences %q", d)
	}
}

type fakeRunner struct {
	calls []string
	fail  map[string]bool // command lines that fail
}

func (f *fakeRunner) Run(_ context.Context, args []string) ([]byte, error) {
	line := strings.Join(args, " ")
	f.calls = append(f.calls, line)
	if f.fail[line] {
		return []byte("boom"), errors.New("exit status 1")
	}
	return nil, nil
}

// TestDarwinCommands: the launchd plan applied into a root, with a fake
// launchctl: the job is (re)loaded only when the plist changed.
func TestDarwinCommands(t *testing.T) {
	root := t.TempDir()
	f := &fakeRunner{}
	in := &Installer{Runner: f}
	tg := Target{OS: "darwin", Scope: User, Binary: "/usr/local/bin/eid-agent", Home: "/Users/ana", UID: 501, Root: root}
	install(t, in, tg, Options{})
	install(t, in, tg, Options{})
	tg.Binary = "/opt/homebrew/bin/eid-agent" // an upgrade moved the binary
	install(t, in, tg, Options{})
	if _, err := in.Uninstall(context.Background(), tg, true); err != nil {
		t.Fatal(err)
	}
	plist := "/Users/ana/Library/LaunchAgents/io.github.eid-agent.agent.plist"
	want := []string{
		"launchctl bootout gui/501/io.github.eid-agent.agent", "launchctl bootstrap gui/501 " + plist, "launchctl kickstart gui/501/io.github.eid-agent.agent",
		"launchctl kickstart gui/501/io.github.eid-agent.agent",
		"launchctl bootout gui/501/io.github.eid-agent.agent", "launchctl bootstrap gui/501 " + plist, "launchctl kickstart gui/501/io.github.eid-agent.agent",
		"launchctl bootout gui/501/io.github.eid-agent.agent",
	}
	if !slices.Equal(f.calls, want) {
		t.Errorf("commands\n%q\nwant\n%q", f.calls, want)
	}
	if ents, _ := os.ReadDir(root); len(ents) != 0 {
		t.Errorf("root not empty after uninstall --purge: %v", ents)
	}
}

func TestInstallErrors(t *testing.T) {
	ctx := context.Background()
	t.Run("conflict", func(t *testing.T) {
		home := t.TempDir()
		unit := filepath.Join(home, ".config/systemd/user/eid-agent.service")
		os.MkdirAll(filepath.Dir(unit), 0o755)
		os.WriteFile(unit, []byte("[Service]\nExecStart=/somebody/else\n"), 0o644)
		before := snapshot(t, home, true)
		p, _ := NewPlan(userTarget(home), Options{TLS: true})
		_, err := (&Installer{Runner: &fakeRunner{}}).Install(ctx, p, Options{TLS: true})
		var ce *ConflictError
		if !errors.As(err, &ce) || !errors.Is(err, ErrConflict) || ce.Path != "/"+strings.TrimPrefix(filepath.ToSlash(unit), "/") {
			t.Fatalf("install over a foreign unit: %v", err)
		}
		if d := diff(before, snapshot(t, home, true)); len(d) != 0 {
			t.Errorf("a refused install changed %q", d)
		}
	})
	t.Run("required command fails", func(t *testing.T) {
		home := t.TempDir()
		f := &fakeRunner{fail: map[string]bool{"systemctl --user enable eid-agent.service": true, "systemctl --user start eid-agent.service": true}}
		p, _ := NewPlan(userTarget(home), Options{})
		r, err := (&Installer{Runner: f}).Install(ctx, p, Options{})
		var ce *CommandError
		if !errors.As(err, &ce) || ce.Args[2] != "enable" || !strings.Contains(ce.Error(), "boom") {
			t.Fatalf("err %v", err)
		}
		if len(r.Warnings) != 2 || !strings.Contains(r.Warnings[0], "run by hand: systemctl --user enable") {
			t.Errorf("warnings %q", r.Warnings)
		}
		if _, err := os.Stat(filepath.Join(home, ".config/systemd/user/eid-agent.service")); err != nil {
			t.Error("unit not written")
		}
	})
	t.Run("no runner", func(t *testing.T) {
		p, _ := NewPlan(userTarget(t.TempDir()), Options{})
		r, err := (&Installer{}).Install(ctx, p, Options{})
		if err != nil || len(r.Warnings) != 4 || !strings.HasPrefix(r.Warnings[0], "not run") {
			t.Errorf("%v %q", err, r.Warnings)
		}
	})
	t.Run("tampered manifest", func(t *testing.T) {
		home := t.TempDir()
		tg := userTarget(home)
		install(t, &Installer{Runner: &fakeRunner{}}, tg, Options{})
		l, _ := tg.Layout()
		data, _ := os.ReadFile(tg.real(l.Manifest))
		os.WriteFile(tg.real(l.Manifest), []byte(strings.Replace(string(data), `"systemctl"`, `"rm"`, 1)), 0o644)
		before := snapshot(t, home, true)
		if _, err := (&Installer{Runner: &fakeRunner{}}).Uninstall(ctx, tg, true); !errors.Is(err, ErrManifest) {
			t.Errorf("uninstall with a foreign command: %v", err)
		}
		if d := diff(before, snapshot(t, home, true)); len(d) != 0 {
			t.Errorf("changed %q", d)
		}
		sys := tg
		sys.Scope = System
		os.WriteFile(tg.real(l.Manifest), data, 0o644)
		if _, err := parseManifest(data, sys); !errors.Is(err, ErrManifest) {
			t.Errorf("manifest of another scope: %v", err)
		}
	})
	t.Run("incomplete TLS left alone", func(t *testing.T) {
		home := t.TempDir()
		ca := filepath.Join(home, ".config/eid-agent/tls/ca.pem")
		os.MkdirAll(filepath.Dir(ca), 0o700)
		os.WriteFile(ca, []byte("x"), 0o644)
		r := install(t, &Installer{Runner: &fakeRunner{}}, userTarget(home), Options{TLS: true})
		if got, _ := os.ReadFile(ca); string(got) != "x" || !strings.Contains(strings.Join(r.Warnings, "\n"), "incomplete loopback TLS") {
			t.Errorf("warnings %q", r.Warnings)
		}
	})
}

// TestTrust: --trust runs the trust-store command after making the CA and
// records its removal for uninstall.
func TestTrust(t *testing.T) {
	home := t.TempDir()
	f := &fakeRunner{}
	in := &Installer{Runner: f, TLS: loopbackca.Options{Host: "pc1", Now: time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)}}
	tg := userTarget(home)
	install(t, in, tg, Options{TLS: true, Trust: true})
	ca := filepath.Join(home, ".config/eid-agent/tls/ca.pem")
	db := "sql:" + filepath.Join(home, ".pki/nssdb")
	add := "certutil -A -d " + db + " -n eid-agent local CA pc1 2026-01-02 -t C,, -i " + ca
	if !slices.Contains(f.calls, add) {
		t.Errorf("calls %q lack %q", f.calls, add)
	}
	f.calls = nil
	if _, err := in.Uninstall(context.Background(), tg, true); err != nil {
		t.Fatal(err)
	}
	if del := "certutil -D -d " + db + " -n eid-agent local CA pc1 2026-01-02"; !slices.Contains(f.calls, del) {
		t.Errorf("uninstall calls %q lack %q", f.calls, del)
	}
}

func FuzzParseManifest(f *testing.F) {
	home := f.TempDir()
	tg := userTarget(home)
	p, _ := NewPlan(tg, Options{})
	if _, err := (&Installer{Runner: &fakeRunner{}}).Install(context.Background(), p, Options{}); err != nil {
		f.Fatal(err)
	}
	data, _ := os.ReadFile(tg.real(p.Layout.Manifest))
	f.Add(data)
	f.Add([]byte(`{"version":1,"os":"linux","scope":"user","binary":"/x","files":null,"dirs":null,"deactivate":[{"args":[]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := parseManifest(data, tg)
		if err != nil {
			if !errors.Is(err, ErrManifest) {
				t.Fatalf("error %v does not wrap ErrManifest", err)
			}
			return
		}
		for _, c := range append(m.Deactivate, m.Cleanup...) {
			if !slices.Contains(manifestPrograms, c.Args[0]) {
				t.Fatalf("accepted command %q", c.Args)
			}
		}
		again, err := parseManifest(m.marshal(), tg)
		if err != nil || string(again.marshal()) != string(m.marshal()) {
			t.Fatalf("round trip: %v", err)
		}
	})
}

// TestManifestGolden: the manifest's form, for an install into a root.
func TestManifestGolden(t *testing.T) {
	root := t.TempDir()
	tg := Target{OS: "linux", Scope: User, Binary: "/usr/bin/eid-agent", Home: "/home/ana", Root: root}
	install(t, &Installer{Runner: &fakeRunner{}}, tg, Options{})
	data, err := os.ReadFile(filepath.Join(root, "home/ana/.local/state/eid-agent/install-manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "manifest-linux-user.json", data)
}
