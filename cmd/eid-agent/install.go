package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/eid-agent/eid-agent/bridge/webeid"
	"github.com/eid-agent/eid-agent/internal/agent/pinentry"
	"github.com/eid-agent/eid-agent/internal/installer"
	"github.com/eid-agent/eid-agent/pkcs"
)

// scopeFlags are the --user/--system/--root flags both commands share.
type scopeFlags struct {
	user, system *bool
	root         *string
}

func addScopeFlags(fs interface {
	Bool(string, bool, string) *bool
	String(string, string, string) *string
}) scopeFlags {
	return scopeFlags{
		user:   fs.Bool("user", false, "for the current user only (the default)"),
		system: fs.Bool("system", false, "for every user of this machine (as root)"),
		root:   fs.String("root", "", "operate on the system mounted at `DIR` instead of / (staging, tests)"),
	}
}

// target builds the installer's Target for this machine.
func (s scopeFlags) target(binary string) (installer.Target, error) {
	if *s.user && *s.system {
		return installer.Target{}, errors.New("--user and --system exclude each other")
	}
	t := installer.Target{OS: runtime.GOOS, Scope: installer.User, Binary: binary, Env: os.Getenv, UID: os.Getuid(), Root: *s.root}
	if *s.system {
		t.Scope = installer.System
	}
	if t.Scope == installer.User {
		home, err := os.UserHomeDir()
		if err != nil {
			return t, err
		}
		t.Home = home
		if runtime.GOOS == "windows" {
			u, err := user.Current()
			if err != nil {
				return t, err
			}
			t.User = u.Username
		}
	}
	return t, nil
}

func runInstall(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("install", stderr)
	scope := addScopeFlags(fs)
	binary := fs.String("binary", "", "the eid-agent `PATH` the service runs (default: this program)")
	var origins multiFlag
	fs.Var(&origins, "allow-origin", "--system: allow web pages of `ORIGIN` in the system policy (exact https://host[:port]; repeatable)")
	browser := fs.Bool("browser-policy", false, "--system on Linux: also write the Chrome/Chromium policy that lets the allowed origins reach the agent (docs/browsers.md)")
	noTLS := fs.Bool("no-tls", false, "--user: do not make the loopback TLS certificate for wss://")
	trust := fs.Bool("trust", false, "--user: add the loopback CA to your trust store (NSS on Linux, login keychain on macOS, CurrentUser Root on Windows)")
	force := fs.Bool("force", false, "install even when a prerequisite check fails")
	dryRun := fs.Bool("dry-run", false, "print what would be done and change nothing")
	if st, ok := parseFlags(fs, args); !ok {
		return st
	}
	bin := *binary
	if bin == "" {
		exe, err := os.Executable()
		if err != nil {
			return fail(stderr, err)
		}
		if bin, err = filepath.EvalSymlinks(exe); err != nil {
			return fail(stderr, err)
		}
	}
	t, err := scope.target(bin)
	if err != nil {
		fmt.Fprintf(stderr, "eid-agent install: %v\n", err)
		return exitUsage
	}
	for _, o := range origins {
		if err := webeid.ValidateOrigin(o, webeid.OriginOptions{}); err != nil {
			fmt.Fprintf(stderr, "eid-agent install: --allow-origin: %v\n", err)
			return exitUsage
		}
	}
	opts := installer.Options{AllowedOrigins: origins, BrowserPolicy: *browser,
		TLS: t.Scope == installer.User && !*noTLS, Trust: *trust}
	if *trust && *noTLS {
		fmt.Fprintln(stderr, "eid-agent install: --trust needs the TLS certificate (drop --no-tls)")
		return exitUsage
	}
	plan, err := installer.NewPlan(t, opts)
	if err != nil {
		return fail(stderr, err)
	}
	if *dryRun {
		printPlan(stdout, plan, opts)
		return exitOK
	}
	// Prerequisites concern the machine this runs on, not a --root.
	if t.Root == "" || t.Root == "/" {
		results := installer.RunChecks(context.Background(), prerequisiteChecks(t))
		installer.WriteText(stdout, results)
		for _, r := range results {
			if r.Status == installer.Fail && !*force {
				fmt.Fprintln(stderr, "eid-agent: a prerequisite is missing (see the fix above); nothing was installed (--force installs anyway)")
				return exitFailure
			}
		}
	}
	in := &installer.Installer{Runner: installer.ExecRunner{}}
	rep, err := in.Install(context.Background(), plan, opts)
	printReport(stdout, rep)
	if err != nil {
		return fail(stderr, err)
	}
	return exitOK
}

func runUninstall(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("uninstall", stderr)
	scope := addScopeFlags(fs)
	purge := fs.Bool("purge", false, "also remove the configuration install created (policy file, TLS certificate)")
	if st, ok := parseFlags(fs, args); !ok {
		return st
	}
	// The binary is not needed to uninstall; the manifest says what to do.
	t, err := scope.target(string(filepath.Separator) + "unused")
	if err != nil {
		fmt.Fprintf(stderr, "eid-agent uninstall: %v\n", err)
		return exitUsage
	}
	if runtime.GOOS == "windows" {
		t.Binary = `C:\unused`
	}
	in := &installer.Installer{Runner: installer.ExecRunner{}}
	rep, err := in.Uninstall(context.Background(), t, *purge)
	if errors.Is(err, installer.ErrNotInstalled) {
		fmt.Fprintf(stdout, "nothing to do: %v\n", err)
		return exitOK
	}
	printReport(stdout, rep)
	if err != nil {
		return fail(stderr, err)
	}
	if len(rep.Kept) > 0 && !*purge {
		fmt.Fprintln(stdout, "configuration kept; remove it with: eid-agent uninstall --purge (before uninstalling) or by hand")
	}
	return exitOK
}

// prerequisiteChecks: what the agent needs on this machine. pcscd is
// required; the PKCS#11 module and the PIN dialog are recommended.
func prerequisiteChecks(t installer.Target) []installer.Check {
	p := &installer.Probes{OS: runtime.GOOS, Runner: installer.ExecRunner{}, Target: t,
		PKCS11: discoverModule, Pinentry: pinentry.Find}
	return []installer.Check{p.PCSCDCheck(), p.PKCS11Check(), p.PinentryCheck()}
}

func discoverModule() (string, string, []string, error) {
	d, err := pkcs.Discover("")
	return d.Path, string(d.Kind), d.Tried, err
}

func printPlan(w io.Writer, p *installer.Plan, opts installer.Options) {
	fmt.Fprintf(w, "would install for %s scope on %s:\n", p.Target.Scope, p.Target.OS)
	for _, f := range p.Files {
		fmt.Fprintf(w, "  write    %s (%s, %04o)\n", f.Path, f.Kind, f.Mode)
	}
	if opts.TLS {
		fmt.Fprintf(w, "  tls      %s (a new loopback CA and certificate unless valid ones are there)\n", p.Layout.TLSDir)
	}
	fmt.Fprintf(w, "  manifest %s\n", p.Layout.Manifest)
	for _, c := range p.Activate {
		fmt.Fprintf(w, "  run      %s\n", strings.Join(c.Args, " "))
	}
}

func printReport(w io.Writer, r *installer.Report) {
	if r == nil {
		return
	}
	for _, l := range []struct {
		what  string
		items []string
	}{{"wrote", r.Written}, {"unchanged", r.Unchanged}, {"kept", r.Kept}, {"removed", r.Removed}, {"ran", r.Ran}} {
		for _, it := range l.items {
			fmt.Fprintf(w, "%-9s %s\n", l.what, it)
		}
	}
	for _, it := range r.Warnings {
		fmt.Fprintf(w, "WARN      %s\n", it)
	}
	for _, it := range r.Notes {
		fmt.Fprintf(w, "note      %s\n", it)
	}
}
