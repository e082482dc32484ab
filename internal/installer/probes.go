package installer

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/eid-agent/eid-agent/internal/clock"

	"github.com/eid-agent/eid-agent/internal/loopbackca"
)

// PCSCSocket is where pcsc-lite's daemon listens (pcsc-lite's
// PCSCLITE_CSOCK_NAME on Debian/Ubuntu). libpcsclite connects to the path
// in the environment variable of the same name when it is set, and so does
// the pcscd check.
const PCSCSocket = "/run/pcscd/pcscd.comm"

// ReaderInfo is one reader as the doctor shows it.
type ReaderInfo struct {
	Name string
	Card string // "no card", "Belgian eID 1.8", "unknown card", ...
}

// ConfigInfo is what the doctor needs of the agent's configuration.
type ConfigInfo struct {
	Sources   []string // files read
	Listen    []string // ws:// addresses
	TLSListen []string // wss:// addresses
	Origins   []string
	AllowHTTP bool // allow_http_loopback_origins
}

// Probes are what the checks look at. The zero value of each OS-facing
// field uses the real system; the functions that need PC/SC or PKCS#11
// (and so cgo) are handed in by the command.
type Probes struct {
	OS     string
	Runner Runner
	// Stat defaults to os.Stat; ProcessRunning to a scan of /proc.
	Stat           func(string) (fs.FileInfo, error)
	ProcessRunning func(name string) bool

	// Readers lists the readers; errors matching ErrNoService or
	// ErrNoReader (the card package's) are told apart.
	Readers      func(ctx context.Context) ([]ReaderInfo, error)
	ErrNoService error
	ErrNoReader  error
	// PKCS11 discovers the module: its path, why it was chosen, what was
	// tried.
	PKCS11 func() (path, kind string, tried []string, err error)
	// Pinentry finds the PIN dialog program.
	Pinentry func() (string, error)
	// ValidateOrigin is the bridge's own origin rule.
	ValidateOrigin func(origin string, allowHTTPLoopback bool) error

	Target Target    // for the service-state check
	TLSDir string    // loopback TLS material
	Now    time.Time // default: the current time (internal/clock)
	// HTTPTimeout bounds each request of the port check (default 2 s).
	HTTPTimeout time.Duration
	// Listeners lists the sockets listening on a port and who holds them
	// (bridge.ListeningSockets with SocketProcess); nil where the system
	// does not tell, and the port check then only asks over HTTP.
	Listeners func(port int) ([]Listener, error)
	// UID is this user's, for telling another user's listener (default
	// os.Getuid()).
	UID func() int
}

func (p *Probes) stat(name string) (fs.FileInfo, error) {
	if p.Stat != nil {
		return p.Stat(name)
	}
	return os.Stat(name)
}

func (p *Probes) now() time.Time {
	if p.Now.IsZero() {
		return clock.Now()
	}
	return p.Now
}

func (p *Probes) run(ctx context.Context, args ...string) (string, error) {
	if p.Runner == nil {
		return "", errors.New("no command runner")
	}
	out, err := p.Runner.Run(ctx, args)
	return strings.TrimSpace(string(out)), err
}

// processRunning scans /proc/*/comm (Linux).
func processRunning(name string) bool {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "comm"))
		if err == nil && strings.TrimSpace(string(b)) == name {
			return true
		}
	}
	return false
}

// pcscSocket is the socket libpcsclite will connect to.
func (p *Probes) pcscSocket() string {
	if s := p.Target.env("PCSCLITE_CSOCK_NAME"); s != "" {
		return s
	}
	return PCSCSocket
}

// PCSCDCheck: is the PC/SC service there to talk to? On Linux pcscd must
// be installed and either running or socket-activated (pcscd.socket), and
// its socket must exist.
func (p *Probes) PCSCDCheck() Check {
	return Check{"pcscd", func(ctx context.Context) Result {
		switch p.OS {
		case "darwin":
			return Result{Status: OK, Detail: "PC/SC is part of macOS (CryptoTokenKit)"}
		case "windows":
			out, err := p.run(ctx, "sc", "query", "SCardSvr")
			if err == nil && strings.Contains(out, "RUNNING") {
				return Result{Status: OK, Detail: "Smart Card service (SCardSvr) running"}
			}
			return Result{Status: Warn, Detail: "Smart Card service (SCardSvr) not running; Windows starts it when a reader is plugged in",
				Fix: "plug in the card reader, or run as administrator: sc start SCardSvr"}
		}
		running := false
		if p.ProcessRunning != nil {
			running = p.ProcessRunning("pcscd")
		} else {
			running = processRunning("pcscd")
		}
		sock := p.pcscSocket()
		fi, err := p.stat(sock)
		socket := err == nil && fi.Mode()&fs.ModeSocket != 0
		enabled, _ := p.run(ctx, "systemctl", "is-enabled", "pcscd.socket")
		activated := enabled == "enabled" || enabled == "static" || enabled == "indirect"
		_, binErr := p.stat("/usr/sbin/pcscd")
		switch {
		case socket && running:
			return Result{Status: OK, Detail: "pcscd running, socket " + sock}
		case socket && activated:
			return Result{Status: OK, Detail: "pcscd socket-activated (pcscd.socket enabled, " + sock + ")"}
		case socket:
			return Result{Status: OK, Detail: "pcscd socket " + sock + " present"}
		case !running && errors.Is(binErr, fs.ErrNotExist) && !activated:
			return Result{Status: Fail, Detail: "pcscd is not installed", Fix: "sudo apt-get install pcscd"}
		case running:
			return Result{Status: Fail, Detail: "pcscd runs but its socket " + sock + " is missing", Fix: "sudo systemctl restart pcscd"}
		case activated:
			return Result{Status: Fail, Detail: "pcscd.socket is enabled but not listening (" + sock + " missing)", Fix: "sudo systemctl start pcscd.socket"}
		default:
			return Result{Status: Fail, Detail: "pcscd is neither running nor socket-activated", Fix: "sudo systemctl enable --now pcscd.socket"}
		}
	}}
}

// ReadersCheck lists the readers and what they hold.
func (p *Probes) ReadersCheck() Check {
	return Check{"readers", func(ctx context.Context) Result {
		if p.Readers == nil {
			return Result{Status: Warn, Detail: "reader listing is not available in this build"}
		}
		rs, err := p.Readers(ctx)
		switch {
		case err != nil && p.ErrNoService != nil && errors.Is(err, p.ErrNoService):
			return Result{Status: Fail, Detail: "cannot reach the PC/SC service: " + err.Error(), Fix: "see the pcscd line"}
		case err != nil && p.ErrNoReader != nil && errors.Is(err, p.ErrNoReader), err == nil && len(rs) == 0:
			return Result{Status: Warn, Detail: "no card reader connected", Fix: "connect the card reader (a CCID reader needs no driver: sudo apt-get install libccid if it is not found)"}
		case err != nil:
			return Result{Status: Fail, Detail: err.Error(), Fix: "unplug and replug the reader; if it persists: sudo systemctl restart pcscd"}
		}
		parts := make([]string, len(rs))
		for i, r := range rs {
			parts[i] = r.Name + " (" + r.Card + ")"
		}
		noun := "readers"
		if len(rs) == 1 {
			noun = "reader"
		}
		return Result{Status: OK, Detail: fmt.Sprintf("%d %s: %s", len(rs), noun, strings.Join(parts, "; "))}
	}}
}

// PKCS11Check: the module signing prefers. Missing is a warning: signing
// falls back to direct APDUs (docs/signing.md).
func (p *Probes) PKCS11Check() Check {
	return Check{"pkcs11", func(context.Context) Result {
		if p.PKCS11 == nil {
			return Result{Status: Warn, Detail: "PKCS#11 discovery is not available in this build"}
		}
		path, kind, tried, err := p.PKCS11()
		if err == nil {
			return Result{Status: OK, Detail: kind + " module " + path}
		}
		fix := "sudo apt-get install opensc-pkcs11, or the Belgian eID middleware (package eid-mw, https://eid.belgium.be)"
		switch p.OS {
		case "darwin", "windows":
			fix = "install the Belgian eID software from https://eid.belgium.be"
		}
		return Result{Status: Warn, Detail: fmt.Sprintf("no PKCS#11 module (tried %s); signing uses direct card commands", strings.Join(tried, ", ")), Fix: fix}
	}}
}

// PinentryCheck: without a PIN dialog only PIN-pad readers can sign.
func (p *Probes) PinentryCheck() Check {
	return Check{"pin dialog", func(context.Context) Result {
		if p.Pinentry == nil {
			return Result{Status: Warn, Detail: "PIN dialog discovery is not available in this build"}
		}
		prog, err := p.Pinentry()
		if err != nil {
			return Result{Status: Warn, Detail: "no pinentry program: operations that need the PIN fail unless the reader has a PIN pad",
				Fix: "sudo apt-get install pinentry-gnome3 (or pinentry-qt)"}
		}
		return Result{Status: OK, Detail: prog}
	}}
}

// ServiceCheck: is the agent installed as a service and running?
func (p *Probes) ServiceCheck() Check {
	return Check{"service", func(ctx context.Context) Result {
		switch p.OS {
		case "darwin":
			job := fmt.Sprintf("gui/%d/%s", p.Target.UID, LaunchdLabel)
			if _, err := p.run(ctx, "launchctl", "print", job); err != nil {
				return Result{Status: Warn, Detail: "launchd job " + job + " not loaded", Fix: "eid-agent install --user"}
			}
			return Result{Status: OK, Detail: "launchd job " + job + " loaded"}
		case "windows":
			name := p.Target.taskName()
			if _, err := p.run(ctx, "schtasks", "/Query", "/TN", name); err != nil {
				return Result{Status: Warn, Detail: "no scheduled task " + name, Fix: "eid-agent install --user"}
			}
			return Result{Status: OK, Detail: "scheduled task " + name + " present"}
		}
		active, err := p.run(ctx, "systemctl", "--user", "is-active", ServiceName)
		if err == nil && active == "active" {
			return Result{Status: OK, Detail: ServiceName + " active (systemd user unit)"}
		}
		enabled, _ := p.run(ctx, "systemctl", "--user", "is-enabled", ServiceName)
		switch {
		case enabled == "enabled" && (active == "inactive" || active == "failed"):
			return Result{Status: Warn, Detail: ServiceName + " is installed but " + active,
				Fix: "systemctl --user start eid-agent; its log: journalctl --user -u eid-agent"}
		case enabled == "enabled":
			return Result{Status: Warn, Detail: ServiceName + " is enabled; its state is unknown (" + firstLine(active) + ")",
				Fix: "run eid-agent doctor in the desktop session"}
		default:
			return Result{Status: Warn, Detail: ServiceName + " is not installed for this user",
				Fix: "eid-agent install --user (or sudo eid-agent install --system)"}
		}
	}}
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if s == "" {
		return "no answer"
	}
	return s
}

// ConfigCheck reports how loading the configuration (as the agent does at
// start: policy, user file, environment) went.
func (p *Probes) ConfigCheck(cfg *ConfigInfo, err error) Check {
	return Check{"config", func(context.Context) Result {
		switch {
		case err != nil:
			return Result{Status: Fail, Detail: err.Error(), Fix: "correct the file named above (every key: eid-agent config example)"}
		case len(cfg.Sources) == 0:
			return Result{Status: OK, Detail: "no configuration file; defaults in use"}
		}
		return Result{Status: OK, Detail: "read " + strings.Join(cfg.Sources, ", ")}
	}}
}

// AllowListCheck: the origins must be exact https origins; none means no
// web page can use the agent.
func (p *Probes) AllowListCheck(cfg *ConfigInfo, cfgErr error) Check {
	return Check{"allow-list", func(context.Context) Result {
		if cfg == nil || cfgErr != nil {
			return Result{Status: Warn, Detail: "not checked: no configuration", Fix: "see the config line"}
		}
		if len(cfg.Origins) == 0 {
			return Result{Status: Warn, Detail: "no web site is allowed to use the agent",
				Fix: "add allowed_origins = [\"https://...\"] to the configuration or the system policy (docs/installer.md)"}
		}
		var bad []string
		for _, o := range cfg.Origins {
			var err error
			if p.ValidateOrigin != nil {
				err = p.ValidateOrigin(o, cfg.AllowHTTP)
			} else if !strings.HasPrefix(o, "https://") {
				err = errors.New("not https")
			}
			if err != nil {
				bad = append(bad, fmt.Sprintf("%q (%v)", o, err))
			}
		}
		if len(bad) > 0 {
			return Result{Status: Fail, Detail: "malformed allowed origins: " + strings.Join(bad, "; "),
				Fix: "write each origin as https://host[:port], lower case, no path"}
		}
		res := Result{Status: OK, Detail: fmt.Sprintf("%d allowed: %s", len(cfg.Origins), strings.Join(cfg.Origins, ", "))}
		if own := ownOrigins(cfg); len(own) > 0 {
			return Result{Status: Warn, Detail: res.Detail + "; " + strings.Join(own, ", ") +
				" is the agent's own address: any page once served there by another program would be admitted without the agent's page key",
				Fix: "remove it from allowed_origins: the agent's own pages need no entry"}
		}
		if cfg.AllowHTTP {
			res.Status, res.Fix = Warn, "remove allow_http_loopback_origins outside development"
			res.Detail += "; http://localhost origins admitted (development setting)"
		}
		return res
	}}
}

// ownOrigins are the allowed origins that name one of the agent's own
// addresses (either loopback family of a listen port).
func ownOrigins(cfg *ConfigInfo) []string {
	own := map[string]bool{}
	add := func(scheme string, addrs []string) {
		for _, a := range addrs {
			ap, err := netip.ParseAddrPort(a)
			if err != nil {
				continue
			}
			for _, h := range []string{"127.0.0.1", "[::1]"} {
				own[scheme+h+":"+strconv.Itoa(int(ap.Port()))] = true
			}
		}
	}
	listen := cfg.Listen
	if len(listen) == 0 {
		listen = []string{"127.0.0.1:8877"}
	}
	add("http://", listen)
	add("https://", cfg.TLSListen)
	var out []string
	for _, o := range cfg.Origins {
		if own[o] {
			out = append(out, o)
		}
	}
	return out
}

// TLSCheck: the loopback TLS material, needed for wss:// (Safari).
func (p *Probes) TLSCheck() Check {
	return Check{"tls", func(context.Context) Result {
		if p.TLSDir == "" {
			return Result{Status: Warn, Detail: "no TLS directory"}
		}
		now := p.now()
		m, err := loopbackca.Load(p.TLSDir, now)
		switch {
		case errors.Is(err, loopbackca.ErrNotInitialized):
			return Result{Status: Warn, Detail: "no loopback certificate in " + p.TLSDir + "; wss:// (needed by Safari) is off", Fix: "eid-agent tls init"}
		case errors.Is(err, loopbackca.ErrExpired):
			return Result{Status: Fail, Detail: err.Error(), Fix: "eid-agent tls init --force, then trust the new ca.pem (docs/installer.md)"}
		case err != nil:
			return Result{Status: Fail, Detail: err.Error(), Fix: "eid-agent tls init --force, then trust the new ca.pem (docs/installer.md)"}
		}
		left := m.Cert.NotAfter.Sub(now)
		detail := fmt.Sprintf("loopback certificate valid until %s, CA %q", m.Cert.NotAfter.Format(time.DateOnly), m.CA.Subject.CommonName)
		if left < 30*24*time.Hour {
			return Result{Status: Warn, Detail: detail + fmt.Sprintf(" (%d days left)", int(left.Hours()/24)),
				Fix: "eid-agent tls init --force, then trust the new ca.pem (docs/installer.md)"}
		}
		return Result{Status: OK, Detail: detail}
	}}
}

// PortCheck: does our agent answer on each configured address? First, who
// holds the agent's ports: a listener of another user, or another program
// of this user, on a loopback or wildcard address of the port can answer
// the browser in the agent's place (and answer HTTP exactly like it), so
// it fails the check whatever it says over HTTP. Then, over HTTP,
// something that does not answer as the bridge is another program too.
func (p *Probes) PortCheck(cfg *ConfigInfo) Check {
	return Check{"port", func(ctx context.Context) Result {
		listen := []string{"127.0.0.1:8877"}
		var tlsListen []string
		if cfg != nil {
			if len(cfg.Listen) > 0 {
				listen = cfg.Listen
			}
			tlsListen = cfg.TLSListen
		}
		if r, ok := p.foreignListener(append(append([]string(nil), listen...), tlsListen...)); !ok {
			return r
		}
		var ok, down []string
		for _, a := range listen {
			r := p.probe(ctx, "http", a)
			if r.Status == Fail {
				return r
			}
			if r.Status == OK {
				ok = append(ok, "ws://"+a)
			} else {
				down = append(down, a)
			}
		}
		for _, a := range tlsListen {
			r := p.probe(ctx, "https", a)
			if r.Status == Fail {
				return r
			}
			if r.Status == OK {
				ok = append(ok, "wss://"+a)
			} else {
				down = append(down, a)
			}
		}
		if len(down) > 0 {
			return Result{Status: Warn, Detail: "nothing listens on " + strings.Join(down, ", ") + ": the agent is not running",
				Fix: "systemctl --user start eid-agent (or run: eid-agent run)"}
		}
		return Result{Status: OK, Detail: "the agent answers on " + strings.Join(ok, ", ")}
	}}
}

// foreignListener looks at every socket listening on the ports of addrs:
// false with the failure when one is not this user's eid-agent.
func (p *Probes) foreignListener(addrs []string) (Result, bool) {
	if p.Listeners == nil {
		return Result{}, true
	}
	uid := os.Getuid()
	if p.UID != nil {
		uid = p.UID()
	}
	seen := map[uint16]bool{}
	for _, a := range addrs {
		ap, err := netip.ParseAddrPort(a)
		if err != nil || seen[ap.Port()] {
			continue
		}
		seen[ap.Port()] = true
		ls, err := p.Listeners(int(ap.Port()))
		if err != nil {
			continue // not known here: the HTTP probe still runs
		}
		for _, l := range ls {
			la, err := netip.ParseAddrPort(l.Addr)
			if err != nil || !(la.Addr().IsLoopback() || la.Addr().IsUnspecified()) {
				continue // on another interface: not reached by the browser's loopback
			}
			port := strconv.Itoa(int(ap.Port()))
			switch {
			case l.UID != uid:
				who := fmt.Sprintf("uid %d", l.UID)
				if u, err := user.LookupId(strconv.Itoa(l.UID)); err == nil {
					who = fmt.Sprintf("%s, uid %d", u.Username, l.UID)
				}
				return Result{Status: Fail,
					Detail: fmt.Sprintf("a program of another user (%s) listens on %s: the browser may reach it instead of the agent, and it can pose as the agent; the agent does not start beside it", who, l.Addr),
					Fix:    "an administrator finds it with: sudo ss -ltnp 'sport = :" + port + "' and stops it; meanwhile set another port (listen = [\"127.0.0.1:PORT\"]) in the configuration"}, false
			case l.PID != 0 && l.Program != AgentProgram:
				return Result{Status: Fail,
					Detail: fmt.Sprintf("another program (%s, pid %d) listens on %s, one of the agent's addresses", l.Program, l.PID, l.Addr),
					Fix:    "stop it (kill " + strconv.Itoa(l.PID) + "), or set another listen address in the configuration"}, false
			}
		}
	}
	return Result{}, true
}

// AgentProgram is the agent's command name as the kernel reports it
// (/proc/PID/comm).
const AgentProgram = "eid-agent"

// probe asks addr: OK when the bridge answers, Warn when nothing listens,
// Fail when something else does.
func (p *Probes) probe(ctx context.Context, scheme, addr string) Result {
	timeout := p.HTTPTimeout
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	// Loopback only, and the question is who answers, not whether to
	// trust it: the certificate is checked by the tls line.
	client := &http.Client{
		Timeout:   timeout,
		Transport: &http.Transport{Proxy: nil, TLSClientConfig: &tls.Config{InsecureSkipVerify: true}},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	defer client.CloseIdleConnections()
	get := func(path string) (*http.Response, []byte, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, scheme+"://"+addr+path, nil)
		if err != nil {
			return nil, nil, err
		}
		resp, err := client.Do(req)
		if err != nil {
			return nil, nil, err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		return resp, body, err
	}
	if _, _, err := get("/"); err != nil {
		var op *net.OpError
		if errors.As(err, &op) && op.Op == "dial" {
			return Result{Status: Warn}
		}
		return Result{Status: Fail, Detail: "something listens on " + addr + " but does not answer as the agent: " + err.Error(),
			Fix: portFix(addr)}
	}
	// A websocket endpoint asked without Origin or token answers the
	// bridge's JSON refusal (docs/protocol.md, "Handshake").
	resp, body, err := get("/ws")
	var refusal struct {
		Error *struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	if err == nil && resp.StatusCode == http.StatusForbidden && json.Unmarshal(body, &refusal) == nil && refusal.Error != nil && refusal.Error.Code != "" {
		return Result{Status: OK}
	}
	return Result{Status: Fail, Detail: "another program answers on " + addr, Fix: portFix(addr)}
}

func portFix(addr string) string {
	_, port, _ := net.SplitHostPort(addr)
	return "find it with: ss -ltnp 'sport = :" + port + "'; stop it or set another listen address in the configuration"
}
