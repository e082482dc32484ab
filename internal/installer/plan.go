package installer

import (
	"fmt"
	"io/fs"
	"strconv"
)

// Kind of a file an install writes; it decides what Install does with an
// existing copy and what Uninstall removes.
type Kind string

const (
	// KindService: the unit, plist or task definition. Rewritten when it
	// changed, always removed.
	KindService Kind = "service"
	// KindConfig: configuration and TLS material. Never overwritten (the
	// administrator or user may have edited it); removed only with Purge.
	KindConfig Kind = "config"
	// KindBrowserPolicy: browser policies derived from the allow-list.
	// Rewritten, always removed: a policy that lets pages reach loopback
	// must not outlive the agent (shared/docs/anchors.md, lesson 12).
	KindBrowserPolicy Kind = "browser-policy"
)

// File is one file of a plan.
type File struct {
	Path string
	Data []byte
	Mode fs.FileMode
	Kind Kind
}

// Command is one command of a plan.
type Command struct {
	Args []string `json:"args"`
	// Optional: a failure is reported but does not fail the install (for
	// example starting the service needs the user's session bus, which
	// an SSH or root shell does not have).
	Optional bool `json:"optional,omitempty"`
	// IfChanged: run only when a service file was written by this run
	// (reloads, restarts).
	IfChanged bool `json:"ifChanged,omitempty"`
}

// Options of an install.
type Options struct {
	// AllowedOrigins: System scope, written into the policy file (the
	// sample, all commented out, when empty) and the browser policies.
	AllowedOrigins []string
	// BrowserPolicy: System scope on Linux, write the Chrome/Chromium
	// managed policies for AllowedOrigins.
	BrowserPolicy bool
	// TLS: User scope, make the loopback TLS material (internal/loopbackca)
	// unless valid material is already there.
	TLS bool
	// Trust: with TLS, add the CA to the user's trust store (NSS shared
	// database on Linux, login keychain on macOS, CurrentUser Root store
	// on Windows).
	Trust bool
}

// Plan is everything an install does, computed without touching the
// system.
type Plan struct {
	Target   Target
	Layout   Layout
	Files    []File
	Activate []Command // after the files are written
	// Deactivate runs at uninstall before files are removed, Cleanup
	// after; both are stored in the manifest, so Uninstall undoes what
	// the install did, whatever version of the agent removes it.
	Deactivate []Command
	Cleanup    []Command
	// Notes for the person installing (what happens next).
	Notes []string
}

// NewPlan computes the install of t with opts.
func NewPlan(t Target, opts Options) (*Plan, error) {
	l, err := t.Layout()
	if err != nil {
		return nil, err
	}
	p := &Plan{Target: t, Layout: l}
	if opts.BrowserPolicy && len(l.BrowserPolicies) == 0 {
		return nil, fmt.Errorf("%w: browser policies on %s in %s scope (see docs/browsers.md for the registry / configuration-profile way)", ErrUnsupported, t.OS, t.Scope)
	}
	if opts.BrowserPolicy && len(opts.AllowedOrigins) == 0 {
		return nil, fmt.Errorf("%w: a browser policy needs at least one allowed origin", ErrTarget)
	}
	if (opts.TLS || opts.Trust) && t.Scope != User {
		return nil, fmt.Errorf("%w: loopback TLS is per user (run eid-agent tls init as each user)", ErrUnsupported)
	}
	if len(opts.AllowedOrigins) > 0 && t.Scope != System {
		return nil, fmt.Errorf("%w: the allow-list in the system policy needs System scope", ErrUnsupported)
	}
	switch t.OS {
	case "linux":
		unit, err := SystemdUnit(t.Binary)
		if err != nil {
			return nil, err
		}
		p.Files = append(p.Files, File{l.Service, unit, 0o644, KindService})
		p.linuxCommands()
	case "darwin":
		p.Files = append(p.Files, File{l.Service, LaunchdPlist(t.Binary), 0o644, KindService})
		p.darwinCommands()
	case "windows":
		p.Files = append(p.Files, File{l.Service, WindowsTaskFile(WindowsTask(t)), 0o644, KindService})
		p.windowsCommands()
	}
	if t.Scope == System {
		p.Files = append(p.Files, File{l.Policy, PolicyTOML(opts.AllowedOrigins), 0o644, KindConfig})
		if opts.BrowserPolicy {
			for _, bp := range l.BrowserPolicies {
				p.Files = append(p.Files, File{bp, ChromePolicy(opts.AllowedOrigins), 0o644, KindBrowserPolicy})
			}
		}
	}
	return p, nil
}

func (p *Plan) linuxCommands() {
	if p.Target.Scope == System {
		// systemctl --global edits /etc/systemd/user/*.wants only: no
		// bus needed, and --root points it at a packaging or test root.
		sc := []string{"systemctl"}
		if r := p.Target.Root; r != "" && r != "/" {
			sc = append(sc, "--root="+r)
		}
		sc = append(sc, "--global")
		p.Activate = []Command{{Args: append(sc[:len(sc):len(sc)], "enable", ServiceName)}}
		p.Deactivate = []Command{{Args: append(sc[:len(sc):len(sc)], "disable", ServiceName)}}
		p.Notes = append(p.Notes, "every user's agent starts at their next login (or now with: systemctl --user start "+ServiceName+")")
		return
	}
	u := func(optional, ifChanged bool, args ...string) Command {
		return Command{Args: append([]string{"systemctl", "--user"}, args...), Optional: optional, IfChanged: ifChanged}
	}
	// enable works without the user's bus (it only makes the
	// default.target.wants link); reload, start and stop need it.
	p.Activate = []Command{
		u(true, true, "daemon-reload"),
		u(false, false, "enable", ServiceName),
		u(true, true, "try-restart", ServiceName),
		u(true, false, "start", ServiceName),
	}
	p.Deactivate = []Command{
		u(true, false, "stop", ServiceName),
		u(false, false, "disable", ServiceName),
	}
	p.Cleanup = []Command{u(true, false, "daemon-reload")}
}

func (p *Plan) darwinCommands() {
	if p.Target.Scope == System {
		p.Notes = append(p.Notes, "every user's agent starts at their next login")
		p.Notes = append(p.Notes, "uninstall stops running agents only at logout")
		return
	}
	domain := "gui/" + strconv.Itoa(p.Target.UID)
	p.Activate = []Command{
		{Args: []string{"launchctl", "bootout", domain + "/" + LaunchdLabel}, Optional: true, IfChanged: true},
		{Args: []string{"launchctl", "bootstrap", domain, p.Layout.Service}, IfChanged: true},
		{Args: []string{"launchctl", "kickstart", domain + "/" + LaunchdLabel}, Optional: true},
	}
	p.Deactivate = []Command{{Args: []string{"launchctl", "bootout", domain + "/" + LaunchdLabel}, Optional: true}}
}

func (p *Plan) windowsCommands() {
	name := p.Target.taskName()
	p.Activate = []Command{{Args: []string{"schtasks", "/Create", "/TN", name, "/XML", p.Layout.Service, "/F"}}}
	if p.Target.Scope == User {
		p.Activate = append(p.Activate, Command{Args: []string{"schtasks", "/Run", "/TN", name}, Optional: true})
	} else {
		p.Notes = append(p.Notes, "every user's agent starts at their next logon")
	}
	p.Deactivate = []Command{
		{Args: []string{"schtasks", "/End", "/TN", name}, Optional: true},
		{Args: []string{"schtasks", "/Delete", "/TN", name, "/F"}},
	}
}

// trustCommands add and remove the loopback CA in the user's trust store.
// nick is the CA's name (unique per install: it holds host and date),
// serial its serial number in hex (how certutil.exe finds it again).
func (p *Plan) trustCommands(caPath, nick, serial string) (add, remove []Command) {
	t := p.Target
	switch t.OS {
	case "linux":
		// Chromium and Chrome read the shared NSS database (certutil from
		// libnss3-tools); "C,," trusts it for TLS servers only.
		db := "sql:" + t.join(t.Home, ".pki", "nssdb")
		add = []Command{{Args: []string{"certutil", "-A", "-d", db, "-n", nick, "-t", "C,,", "-i", caPath}}}
		remove = []Command{{Args: []string{"certutil", "-D", "-d", db, "-n", nick}, Optional: true}}
	case "darwin":
		// Safari reads the keychain; -p ssl limits the trust to TLS.
		kc := t.join(t.Home, "Library/Keychains/login.keychain-db")
		add = []Command{{Args: []string{"security", "add-trusted-cert", "-r", "trustRoot", "-p", "ssl", "-k", kc, caPath}}}
		remove = []Command{
			{Args: []string{"security", "remove-trusted-cert", caPath}, Optional: true},
			{Args: []string{"security", "delete-certificate", "-c", nick, kc}, Optional: true},
		}
	case "windows":
		add = []Command{{Args: []string{"certutil", "-user", "-addstore", "Root", caPath}}}
		remove = []Command{{Args: []string{"certutil", "-user", "-delstore", "Root", serial}, Optional: true}}
	}
	return add, remove
}
