// Package config loads the agent's configuration: one TOML file at the
// operating system's usual place, an optional administrator policy file,
// environment variables and command-line flags, in increasing order of
// precedence. Every key, with its default, is documented in
// example.toml (embedded; `eid-agent config example` prints it).
//
// Errors name the file and line of the offending key, so `eid-agent config
// check` can tell an administrator exactly what to fix.
package config

import (
	_ "embed"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/pelletier/go-toml/v2"

	"github.com/eid-agent/eid-agent/bridge"
)

//go:embed example.toml
var Example []byte

// Config is the whole configuration. The toml tags are the file's keys.
type Config struct {
	Listen                   []string `toml:"listen"`
	AllowedOrigins           []string `toml:"allowed_origins"`
	AllowHTTPLoopbackOrigins bool     `toml:"allow_http_loopback_origins"`
	Grants                   []Grant  `toml:"grant"`

	Simulate        bool   `toml:"simulate"`
	SimulateProfile string `toml:"simulate_profile"`

	TrustRoots      []string `toml:"trust_roots"`
	PINPrompt       string   `toml:"pin_prompt"`
	PinentryProgram string   `toml:"pinentry_program"`
	ConsentPrompt   string   `toml:"consent_prompt"`
	QueueTimeout    Duration `toml:"queue_timeout"`

	LogLevel  string `toml:"log_level"`
	LogFormat string `toml:"log_format"`

	StateDir string `toml:"state_dir"`

	Audit   Audit   `toml:"audit"`
	Cache   Cache   `toml:"cache"`
	Journal Journal `toml:"journal"`
	Scanner Scanner `toml:"scanner"`
	TLS     TLS     `toml:"tls"`
	Limits  Limits  `toml:"limits"`
	// Attestation bounds the chip challenges of attest (internal/agent/attest.go).
	Attestation Attestation `toml:"attestation"`
	// Counters pair counter applications (policy file only).
	Counters []Counter `toml:"counter"`

	// Sources lists the files this configuration was read from.
	Sources []string `toml:"-"`

	// ceilings are the policy's values of Ceiling keys, by name: the
	// user's file can only lower them.
	ceilings map[string]int64
}

// Grant pre-approves what an origin (or "app:NAME") may do.
type Grant struct {
	Origin      string   `toml:"origin"`
	Permissions []string `toml:"permissions"`
	// FromPolicy: the grant comes from the administrator's policy file,
	// the only place AdminPermissions may be granted.
	FromPolicy bool `toml:"-"`
}

type Audit struct {
	Enabled   *bool  `toml:"enabled"`
	Path      string `toml:"path"`
	MaxSizeMB int    `toml:"max_size_mb"`
	Keep      int    `toml:"keep"`
}

type Cache struct {
	Disk bool   `toml:"disk"`
	Dir  string `toml:"dir"`
}

type Journal struct {
	Path          string `toml:"path"`
	RetentionDays int    `toml:"retention_days"`
}

type Scanner struct {
	Device string `toml:"device"`
	Baud   int    `toml:"baud"`
}

type TLS struct {
	Listen []string `toml:"listen"`
	Cert   string   `toml:"cert"`
	Key    string   `toml:"key"`
}

// Counter pairs a counter application (internal/agent/counter.go): on each card
// insertion the agent reads the card once and pushes Fields to that
// client's connections. Only the administrator's policy may set it.
type Counter struct {
	// Client is a web origin (exact, as in allowed_origins) or
	// "app:NAME" for a desktop application.
	Client string `toml:"client"`
	// Fields released: card, identity, identity.MEMBER, address, photo,
	// photoSha256, integrity.
	Fields []string `toml:"fields"`
	// Attestation: every card-read carries an attestation for the nonce
	// the application left standing (and waits for one).
	Attestation bool `toml:"attestation"`
	// Revocation: the card's authentication certificate is checked (OCSP)
	// after each card-read and reported by a later event.
	Revocation bool `toml:"revocation"`
}

// CounterFields returns the fields a counter pairing may name besides
// identity.MEMBER (a fresh copy: callers cannot change the rule).
func CounterFields() []string {
	return []string{"card", "identity", "address", "photo", "photoSha256", "integrity"}
}

// Attestation is the chip-challenge budget of presence attestations: a
// card answers 5000 basic-key challenges before it needs the PIN again.
type Attestation struct {
	PerInsertion    int `toml:"per_insertion"`
	PerOriginHourly int `toml:"per_origin_hourly"`
}

type Limits struct {
	MaxConnections    int      `toml:"max_connections"`
	RequestsPerSecond float64  `toml:"requests_per_second"`
	MaxMessageBytes   int      `toml:"max_message_bytes"`
	IdleTimeout       Duration `toml:"idle_timeout"`
}

// Duration is a time.Duration written as "30s", "5m".
type Duration struct{ time.Duration }

func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("%q is not a duration (examples: 30s, 5m, 1h)", b)
	}
	if v < 0 {
		return fmt.Errorf("%q: a duration cannot be negative", b)
	}
	d.Duration = v
	return nil
}

func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// Permissions returns the permissions an origin may be granted (a fresh
// copy). isi.submit and proofs.list need "identity": they carry an SSIN;
// reading-proof needs "card" and "identity" besides the fields asked: its
// proof carries the card number and the SSIN.
func Permissions() []string {
	return []string{"card", "identity", "address", "photo", "photoSha256", "certificates",
		"integrity", "bundle", "authenticate", "sign"}
}

// AdminPermissions returns the permissions that may be granted only in the
// administrator's policy file
// (never in the user's file, a flag, or a consent dialog): "proofs-all"
// lets proofs.list return every caller's reading proofs (all:true), not
// only the caller's own.
func AdminPermissions() []string { return []string{"proofs-all"} }

// Defaults returns the configuration with every default filled in
// (Keys).
func Defaults() *Config {
	c := &Config{}
	for _, k := range Keys() {
		if k.def != nil {
			fieldOf(c, k.Name).Set(reflect.ValueOf(k.def))
		}
	}
	return c
}

// ErrInvalid is wrapped by every error about a configuration's content.
var ErrInvalid = errors.New("invalid configuration")

// Problem is one error in a file, with its position.
type Problem struct {
	File    string
	Line    int // 1-based; 0 when not tied to a line
	Key     string
	Message string
}

func (p Problem) String() string {
	loc := p.File
	if p.Line > 0 {
		loc = fmt.Sprintf("%s:%d", p.File, p.Line)
	}
	if p.Key != "" {
		return fmt.Sprintf("%s: %s: %s", loc, p.Key, p.Message)
	}
	return fmt.Sprintf("%s: %s", loc, p.Message)
}

// Error lists every problem found in a configuration.
type Error struct{ Problems []Problem }

func (e *Error) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

func (e *Error) Unwrap() error { return ErrInvalid }

// DefaultPath is the user's configuration file:
// $XDG_CONFIG_HOME/eid-agent/config.toml (~/.config/...) on Linux,
// ~/Library/Application Support/eid-agent/config.toml on macOS,
// %AppData%\eid-agent\config.toml on Windows. EID_AGENT_CONFIG overrides it.
func DefaultPath() string {
	if p := os.Getenv("EID_AGENT_CONFIG"); p != "" {
		return p
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "eid-agent", "config.toml")
}

// PolicyPath is the administrator's policy file, laid down by the
// installer: /etc/eid-agent/policy.toml (Linux), /Library/Application
// Support/eid-agent/policy.toml (macOS), %ProgramData%\eid-agent\policy.toml
// (Windows). EID_AGENT_POLICY overrides it.
func PolicyPath() string {
	if p := os.Getenv("EID_AGENT_POLICY"); p != "" {
		return p
	}
	switch runtime.GOOS {
	case "darwin":
		return "/Library/Application Support/eid-agent/policy.toml"
	case "windows":
		pd := os.Getenv("ProgramData")
		if pd == "" {
			pd = `C:\ProgramData`
		}
		return filepath.Join(pd, "eid-agent", "policy.toml")
	}
	return "/etc/eid-agent/policy.toml"
}

// DefaultStateDir is where the agent keeps what it writes: consent
// decisions, the audit journal, the reading-proof journal, the desktop
// token. $XDG_STATE_HOME/eid-agent (~/.local/state/eid-agent) on Linux,
// the user configuration folder elsewhere.
func DefaultStateDir() string {
	if runtime.GOOS == "linux" || runtime.GOOS == "freebsd" {
		if d := os.Getenv("XDG_STATE_HOME"); d != "" {
			return filepath.Join(d, "eid-agent")
		}
		if h, err := os.UserHomeDir(); err == nil {
			return filepath.Join(h, ".local", "state", "eid-agent")
		}
	}
	if d, err := os.UserConfigDir(); err == nil {
		return filepath.Join(d, "eid-agent", "state")
	}
	return ""
}

// Load reads the policy file (if it exists), then the user's file at path
// ("" = DefaultPath; a missing default file is no error, a missing named
// one is), then the environment, then flags (the command line's
// settings). Precedence is that order, the last winning, except for
// what the policy adds to or caps (Key.Add, Key.Ceiling). The paths
// derived from the state folder are filled in last, so an explicit
// audit.path or journal.path from any source wins over them.
func Load(path string, flags ...Setting) (*Config, error) {
	c := Defaults()
	if err := c.mergeFile(PolicyPath(), true, true); err != nil {
		return nil, err
	}
	named := path != ""
	if !named {
		path = DefaultPath()
	}
	if path != "" {
		if err := c.mergeFile(path, !named, false); err != nil {
			return nil, err
		}
	}
	if err := c.applyEnv(); err != nil {
		return nil, err
	}
	if len(flags) > 0 {
		if err := c.applyFlags(flags); err != nil {
			return nil, err
		}
	}
	c.fillPaths()
	return c, nil
}

// Check validates one file on its own (defaults + file), for `config
// check`. It returns every problem found. The policy file (PolicyPath) is
// checked as a policy: only policy keys, and the administrator's
// permissions allowed.
func Check(path string) (*Config, error) {
	c := Defaults()
	if err := c.mergeFile(path, false, isPolicyPath(path)); err != nil {
		return nil, err
	}
	c.fillPaths()
	return c, nil
}

// isPolicyPath reports whether path is the policy file.
func isPolicyPath(path string) bool {
	a, err1 := os.Stat(path)
	b, err2 := os.Stat(PolicyPath())
	return err1 == nil && err2 == nil && os.SameFile(a, b)
}

// IsPolicyFile reports whether path is the administrator's policy file
// (PolicyPath), which `config check` checks with the policy's rules only.
func IsPolicyFile(path string) bool {
	return isPolicyPath(path)
}

func (c *Config) mergeFile(path string, missingOK, policy bool) error {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) && missingOK {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	f, problems := parse(path, data)
	if f != nil {
		if policy {
			for i := range f.Grants {
				f.Grants[i].FromPolicy = true
			}
		}
		problems = append(problems, f.validate(path, data)...)
	}
	policyKeys, policyOnly := policyKeys()
	for _, k := range keysOf(data) {
		top, _, _ := strings.Cut(k.name, ".")
		switch {
		case policy && !slices.Contains(policyKeys, top):
			problems = append(problems, Problem{File: path, Line: k.line, Key: k.name,
				Message: "not a policy key (a policy may set " + strings.Join(policyKeys, ", ") + ")"})
		case !policy && slices.Contains(policyOnly, top) && k.name == top:
			problems = append(problems, Problem{File: path, Line: k.line, Key: k.name,
				Message: "counter applications are paired in the administrator's policy file only (" + PolicyPath() + ")"})
		}
	}
	if len(problems) > 0 {
		return &Error{Problems: problems}
	}
	c.merge(f, data, policy)
	c.Sources = append(c.Sources, path)
	return nil
}

// parse decodes strictly: an unknown key is an error, not a silent
// default (a misspelt "alowed_origins" would otherwise open nothing and
// nobody would know why).
func parse(path string, data []byte) (*Config, []Problem) {
	f := &Config{}
	dec := toml.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	err := dec.Decode(f)
	if err == nil {
		return f, nil
	}
	var strict *toml.StrictMissingError
	if errors.As(err, &strict) {
		var ps []Problem
		for _, e := range strict.Errors {
			line, _ := e.Position()
			ps = append(ps, Problem{File: path, Line: line, Key: strings.Join(e.Key(), "."),
				Message: "unknown key (see `eid-agent config example` for the keys)"})
		}
		// The decoder filled in the known keys: check their values too,
		// so one run of `config check` lists every problem.
		return f, ps
	}
	var de *toml.DecodeError
	if errors.As(err, &de) {
		line, _ := de.Position()
		return nil, []Problem{{File: path, Line: line, Key: strings.Join(de.Key(), "."), Message: strings.TrimPrefix(de.Error(), "toml: ")}}
	}
	return nil, []Problem{{File: path, Message: err.Error()}}
}

// merge copies the keys present in the file over c. Which keys are
// present comes from the document itself, so "simulate = false" in the
// user's file overrides nothing set elsewhere wrongly.
func (c *Config) merge(f *Config, data []byte, policy bool) {
	present := map[string]bool{}
	for _, k := range keysOf(data) {
		present[k.name] = true
	}
	for _, k := range Keys() {
		if present[k.Name] && (k.Policy || !policy) {
			c.mergeKey(k, f, policy)
		}
	}
}

// Environment variables, applied after the files.
const (
	EnvListen         = "EID_AGENT_LISTEN"          // comma-separated
	EnvAllowedOrigins = "EID_AGENT_ALLOWED_ORIGINS" // comma-separated, added
	EnvLogLevel       = "EID_AGENT_LOG_LEVEL"
	EnvLogFormat      = "EID_AGENT_LOG_FORMAT"
	EnvSimulate       = "EID_AGENT_SIMULATE" // "1"/"true": --simulate
	EnvStateDir       = "EID_AGENT_STATE_DIR"
)

func (c *Config) applyEnv() error {
	var ps []Problem
	for _, k := range Keys() {
		v := os.Getenv(k.Env)
		if k.Env == "" || v == "" {
			continue
		}
		values := []string{v}
		if k.Kind() == List {
			values = splitList(v)
		}
		if err := c.set(k, values); err != nil {
			ps = append(ps, Problem{File: "environment", Key: k.Env, Message: err.Error()})
		}
	}
	ps = append(ps, c.Validate("environment")...)
	if len(ps) > 0 {
		return &Error{Problems: ps}
	}
	return nil
}

// applyFlags applies the command line's settings. An empty Text value
// sets nothing, as an empty environment variable does.
func (c *Config) applyFlags(flags []Setting) error {
	var ps []Problem
	keys := Keys()
	for _, k := range keys {
		if k.Flag == "" {
			continue
		}
		var values []string
		for _, s := range flags {
			if s.Key == k.Name && (s.Value != "" || k.Kind() != Text) {
				values = append(values, s.Value)
			}
		}
		if len(values) == 0 {
			continue
		}
		if err := c.set(k, values); err != nil {
			ps = append(ps, Problem{File: "flags", Key: "--" + k.Flag, Message: err.Error()})
		}
	}
	for _, s := range flags {
		if !slices.ContainsFunc(keys, func(k Key) bool { return k.Name == s.Key && k.Flag != "" }) {
			ps = append(ps, Problem{File: "flags", Key: s.Key, Message: "not a key a flag sets"})
		}
	}
	ps = append(ps, c.Validate("flags")...)
	if len(ps) > 0 {
		return &Error{Problems: ps}
	}
	return nil
}

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func (c *Config) fillPaths() {
	if c.StateDir == "" {
		c.StateDir = DefaultStateDir()
	}
	if c.Audit.Path == "" && c.StateDir != "" {
		c.Audit.Path = filepath.Join(c.StateDir, "audit.jsonl")
	}
	if c.Journal.Path == "" && c.StateDir != "" {
		c.Journal.Path = filepath.Join(c.StateDir, "proofs.jsonl")
	}
	if c.Cache.Dir == "" {
		if d, err := os.UserCacheDir(); err == nil {
			c.Cache.Dir = filepath.Join(d, "eid-agent")
		}
	}
}

// AuditEnabled: the audit journal is on unless the file turns it off.
func (c *Config) AuditEnabled() bool { return c.Audit.Enabled == nil || *c.Audit.Enabled }

// validate checks the values of a parsed file, with the lines of the keys.
func (f *Config) validate(path string, data []byte) []Problem {
	lines := map[string]int{}
	for _, k := range keysOf(data) {
		if _, ok := lines[k.name]; !ok {
			lines[k.name] = k.line
		}
	}
	ps := f.Validate(path)
	for i := range ps {
		ps[i].Line = lines[ps[i].Key]
	}
	return ps
}

// Validate checks values; problems carry the key but no line. Empty
// values are not checked (they take defaults).
func (c *Config) Validate(source string) []Problem {
	var ps []Problem
	bad := func(key, format string, a ...any) {
		ps = append(ps, Problem{File: source, Key: key, Message: fmt.Sprintf(format, a...)})
	}
	for _, l := range c.Listen {
		if err := CheckListen(l); err != nil {
			bad("listen", "%v", err)
		}
	}
	for _, l := range c.TLS.Listen {
		if err := CheckListen(l); err != nil {
			bad("tls.listen", "%v", err)
		}
	}
	if len(c.TLS.Listen) > 0 && (c.TLS.Cert == "") != (c.TLS.Key == "") {
		bad("tls.cert", "set both tls.cert and tls.key, or neither (then the per-install certificate of `eid-agent tls init` is used)")
	}
	for _, o := range c.AllowedOrigins {
		if err := CheckOrigin(o, c.AllowHTTPLoopbackOrigins); err != nil {
			bad("allowed_origins", "%v", err)
		}
	}
	for _, g := range c.Grants {
		if g.Origin == "" {
			bad("grant", "a grant needs an origin")
		} else if !strings.HasPrefix(g.Origin, "app:") {
			if err := CheckOrigin(g.Origin, c.AllowHTTPLoopbackOrigins); err != nil {
				bad("grant", "%v", err)
			}
		}
		for _, p := range g.Permissions {
			switch {
			case slices.Contains(AdminPermissions(), p) && !g.FromPolicy:
				bad("grant", "%q can be granted only in the administrator's policy file (%s)", p, PolicyPath())
			case !slices.Contains(Permissions(), p) && !slices.Contains(AdminPermissions(), p):
				bad("grant", "unknown permission %q (known: %s; in the policy file also %s)", p,
					strings.Join(Permissions(), ", "), strings.Join(AdminPermissions(), ", "))
			}
		}
	}
	oneOf := func(key, v string, allowed ...string) {
		if v != "" && !slices.Contains(allowed, v) {
			bad(key, "%q is not one of %s", v, strings.Join(allowed, ", "))
		}
	}
	oneOf("log_level", c.LogLevel, "debug", "info", "warn", "error")
	oneOf("log_format", c.LogFormat, "auto", "text", "json")
	oneOf("pin_prompt", c.PINPrompt, "auto", "pinentry", "terminal", "none")
	oneOf("consent_prompt", c.ConsentPrompt, "auto", "pinentry", "none")
	if c.SimulateProfile != "" && strings.ContainsAny(c.SimulateProfile, "\x00") {
		bad("simulate_profile", "invalid name")
	}
	if c.Audit.MaxSizeMB < 0 {
		bad("audit.max_size_mb", "must be positive")
	}
	if c.Audit.Keep < 0 {
		bad("audit.keep", "must be positive")
	}
	if c.Journal.RetentionDays < 0 {
		bad("journal.retention_days", "must be positive (0 keeps everything)")
	}
	if c.Scanner.Baud < 0 {
		bad("scanner.baud", "must be positive")
	}
	if c.Limits.MaxConnections < 0 || c.Limits.MaxMessageBytes < 0 || c.Limits.RequestsPerSecond < 0 {
		bad("limits", "limits must be positive")
	}
	seenCounter := map[string]bool{}
	for _, k := range c.Counters {
		switch {
		case k.Client == "":
			bad("counter", "a counter pairing needs a client (an origin or app:NAME)")
		case strings.HasPrefix(k.Client, "app:"):
			if len(k.Client) == len("app:") {
				bad("counter", "%q: name the desktop application after app:", k.Client)
			}
		default:
			if err := CheckOrigin(k.Client, c.AllowHTTPLoopbackOrigins); err != nil {
				bad("counter", "%v", err)
			}
		}
		if seenCounter[k.Client] {
			bad("counter", "%q is paired twice", k.Client)
		}
		seenCounter[k.Client] = true
		if len(k.Fields) == 0 {
			bad("counter", "%q: fields must name what the application receives", k.Client)
		}
		partial := false
		for _, f := range k.Fields {
			if m, ok := strings.CutPrefix(f, "identity."); ok {
				if !slices.Contains(IdentityMembers(), m) {
					bad("counter", "%q: unknown identity member %q (known: %s)", k.Client, m, strings.Join(IdentityMembers(), ", "))
				}
				partial = true
				continue
			}
			if !slices.Contains(CounterFields(), f) {
				bad("counter", "%q: unknown field %q (known: %s, identity.MEMBER)", k.Client, f, strings.Join(CounterFields(), ", "))
			}
		}
		if k.Attestation && partial && !slices.Contains(k.Fields, "identity") {
			bad("counter", "%q: an attestation releases the whole signed identity file, national number included; "+
				"pair \"identity\" whole or set attestation = false", k.Client)
		}
	}
	if c.Attestation.PerInsertion < 0 || c.Attestation.PerInsertion > 100 {
		bad("attestation.per_insertion", "must be 1 to 100 (a card answers 5000 challenges before it needs the PIN)")
	}
	if c.Attestation.PerOriginHourly < 0 || c.Attestation.PerOriginHourly > 1000 {
		bad("attestation.per_origin_hourly", "must be 1 to 1000")
	}
	return ps
}

// CheckListen accepts only a literal loopback IP with a port: the agent
// never listens on a network.
func CheckListen(addr string) error {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return fmt.Errorf("%q: want a loopback IP and port such as 127.0.0.1:8877 or [::1]:8877", addr)
	}
	if a := ap.Addr(); a != netip.MustParseAddr("127.0.0.1") && a != netip.IPv6Loopback() {
		return fmt.Errorf("%q is not a loopback address: the agent only listens on 127.0.0.1 or ::1", addr)
	}
	return nil
}

// CheckOrigin accepts "https://host[:port]" exactly as a browser sends it
// (no path, no wildcard, lower case, no default port); "http://" only for
// loopback hosts and only when allowHTTP. The verdict is the bridge's
// (bridge.ValidateOrigin), so `config check` and `run` never disagree;
// the common mistakes first get a message saying what to write instead.
func CheckOrigin(o string, allowHTTP bool) error {
	if err := originHints(o, allowHTTP); err != nil {
		return err
	}
	return bridge.ValidateOrigin(o, allowHTTP)
}

// originHints explains the usual mistakes; everything it refuses
// bridge.ValidateOrigin refuses too.
func originHints(o string, allowHTTP bool) error {
	u, err := url.Parse(o)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return fmt.Errorf("%q is not an origin (want https://host[:port])", o)
	}
	if u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("%q: an origin has no path, query or user (want %s://%s)", o, u.Scheme, u.Host)
	}
	if strings.Contains(u.Host, "*") {
		return fmt.Errorf("%q: wildcards are not allowed; list each origin", o)
	}
	if o != strings.ToLower(o) {
		return fmt.Errorf("%q: browsers send origins in lower case; write it so", o)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		h := u.Hostname()
		loop := h == "localhost"
		if a, err := netip.ParseAddr(h); err == nil && a.IsLoopback() {
			loop = true
		}
		if !loop {
			return fmt.Errorf("%q: plain http is only for loopback development origins", o)
		}
		if !allowHTTP {
			return fmt.Errorf("%q: http origins need allow_http_loopback_origins = true (development only)", o)
		}
		return nil
	}
	return fmt.Errorf("%q: the scheme must be https", o)
}
