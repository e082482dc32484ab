package installer

import (
	"errors"
	"fmt"
	"path"
	"strings"
)

// Scope of an install.
type Scope string

const (
	// User installs for the current user only, in their home.
	User Scope = "user"
	// System installs the per-user agent for every user of the machine
	// (still running as each user, in their session).
	System Scope = "system"
)

// Names shared by every platform.
const (
	ServiceName   = "eid-agent.service"         // systemd unit
	LaunchdLabel  = "io.github.eid-agent.agent" // launchd job label
	TaskName      = "eid-agent"                 // Task Scheduler (system scope)
	ManifestName  = "install-manifest.json"
	PolicyName    = "policy.toml"
	BrowserPolicy = "eid-agent.json" // Chrome/Chromium managed policy file name
)

// Errors.
var (
	// ErrTarget: the Target is incomplete or inconsistent.
	ErrTarget = errors.New("invalid install target")
	// ErrUnsupported: the option does not exist on that OS or scope.
	ErrUnsupported = errors.New("not supported")
	// ErrNotInstalled: Uninstall found no manifest.
	ErrNotInstalled = errors.New("eid-agent is not installed")
	// ErrConflict: a file install wants to write exists and was not made by
	// a previous install (see ConflictError).
	ErrConflict = errors.New("file exists and was not installed by eid-agent")
	// ErrManifest: the manifest is unreadable or belongs to another target.
	ErrManifest = errors.New("bad install manifest")
)

// Target says where and for whom to install. Paths are those the running
// system sees; Root (tests, packaging) is prepended when touching files.
type Target struct {
	OS     string // "linux", "darwin" or "windows"
	Scope  Scope
	Binary string // absolute path of the eid-agent executable
	Home   string // the user's home (User scope)
	// Env looks up XDG_CONFIG_HOME, XDG_STATE_HOME (Linux), APPDATA,
	// LOCALAPPDATA, ProgramData (Windows). Nil: none set.
	Env  func(string) string
	UID  int    // macOS User scope: the launchd domain gui/UID
	User string // Windows User scope: DOMAIN\name the task runs as
	// Root is prepended to every path touched (default "/"). For System
	// scope on Linux it is also passed to systemctl --root.
	Root string
}

// Layout is where an install puts things.
type Layout struct {
	Service   string // systemd unit, launchd plist or task XML
	ConfigDir string // the agent's configuration directory
	TLSDir    string // loopback TLS material (User scope)
	Policy    string // the administrator's policy file (System scope)
	Manifest  string
	// BrowserPolicies: Chrome/Chromium managed policy files (Linux System
	// scope; elsewhere browsers take policies from the registry or
	// configuration profiles, which this installer does not write).
	BrowserPolicies []string
}

func (t Target) env(k string) string {
	if t.Env == nil {
		return ""
	}
	return t.Env(k)
}

// join builds a path in the target OS's syntax, whatever OS runs this.
func (t Target) join(elem ...string) string {
	if t.OS == "windows" {
		for i := range elem {
			elem[i] = strings.TrimRight(strings.ReplaceAll(elem[i], "/", `\`), `\`)
		}
		return strings.Join(elem, `\`)
	}
	return path.Join(elem...)
}

func (t Target) isAbs(p string) bool {
	if t.OS == "windows" {
		return len(p) >= 3 && p[1] == ':' && (p[2] == '\\' || p[2] == '/') || strings.HasPrefix(p, `\\`)
	}
	return path.IsAbs(p)
}

func (t Target) validate() error {
	switch t.OS {
	case "linux", "darwin", "windows":
	default:
		return fmt.Errorf("%w: OS %q", ErrTarget, t.OS)
	}
	if t.Scope != User && t.Scope != System {
		return fmt.Errorf("%w: scope %q", ErrTarget, t.Scope)
	}
	if !t.isAbs(t.Binary) {
		return fmt.Errorf("%w: binary %q is not an absolute path", ErrTarget, t.Binary)
	}
	if t.Scope == User && t.OS != "windows" && !t.isAbs(t.Home) {
		return fmt.Errorf("%w: home %q is not an absolute path", ErrTarget, t.Home)
	}
	if t.Scope == User && t.OS == "windows" && t.User == "" {
		return fmt.Errorf("%w: the Windows user the task runs as is not set", ErrTarget)
	}
	return nil
}

// Layout returns where the install of t puts things.
func (t Target) Layout() (Layout, error) {
	if err := t.validate(); err != nil {
		return Layout{}, err
	}
	var l Layout
	switch {
	case t.OS == "linux" && t.Scope == User:
		cfg := t.env("XDG_CONFIG_HOME")
		if !path.IsAbs(cfg) { // the XDG base directory spec ignores relative values
			cfg = path.Join(t.Home, ".config")
		}
		state := t.env("XDG_STATE_HOME")
		if !path.IsAbs(state) {
			state = path.Join(t.Home, ".local", "state")
		}
		l.Service = path.Join(cfg, "systemd", "user", ServiceName)
		l.ConfigDir = path.Join(cfg, "eid-agent")
		l.Manifest = path.Join(state, "eid-agent", ManifestName)
	case t.OS == "linux":
		l.Service = path.Join("/etc/systemd/user", ServiceName)
		l.ConfigDir = "/etc/eid-agent"
		l.Policy = path.Join(l.ConfigDir, PolicyName)
		l.Manifest = path.Join("/var/lib/eid-agent", ManifestName)
		l.BrowserPolicies = []string{
			path.Join("/etc/chromium/policies/managed", BrowserPolicy),
			path.Join("/etc/opt/chrome/policies/managed", BrowserPolicy),
		}
	case t.OS == "darwin" && t.Scope == User:
		l.Service = path.Join(t.Home, "Library/LaunchAgents", LaunchdLabel+".plist")
		l.ConfigDir = path.Join(t.Home, "Library/Application Support/eid-agent")
		l.Manifest = path.Join(l.ConfigDir, ManifestName)
	case t.OS == "darwin":
		l.Service = path.Join("/Library/LaunchAgents", LaunchdLabel+".plist")
		l.ConfigDir = "/Library/Application Support/eid-agent"
		l.Policy = path.Join(l.ConfigDir, PolicyName) // agent/config.PolicyPath
		l.Manifest = path.Join(l.ConfigDir, ManifestName)
	case t.Scope == User: // windows
		appData, local := t.env("APPDATA"), t.env("LOCALAPPDATA")
		if appData == "" || local == "" {
			return Layout{}, fmt.Errorf("%w: APPDATA and LOCALAPPDATA must be set", ErrTarget)
		}
		l.Service = t.join(local, "eid-agent", "eid-agent-task.xml")
		l.ConfigDir = t.join(appData, "eid-agent")
		l.Manifest = t.join(local, "eid-agent", ManifestName)
	default: // windows system
		pd := t.env("ProgramData")
		if pd == "" {
			return Layout{}, fmt.Errorf("%w: ProgramData must be set", ErrTarget)
		}
		l.Service = t.join(pd, "eid-agent", "eid-agent-task.xml")
		l.ConfigDir = t.join(pd, "eid-agent")
		l.Policy = t.join(l.ConfigDir, PolicyName)
		l.Manifest = t.join(l.ConfigDir, ManifestName)
	}
	if t.Scope == User {
		l.TLSDir = t.join(l.ConfigDir, "tls")
	}
	return l, nil
}

// taskName: one task per user in User scope (task names are machine-wide).
func (t Target) taskName() string {
	if t.Scope == System {
		return TaskName
	}
	u := t.User
	if i := strings.LastIndexByte(u, '\\'); i >= 0 {
		u = u[i+1:]
	}
	return TaskName + " (" + u + ")"
}
