package bridge

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"time"
)

// AppToken lets a local desktop application in without an Origin. The
// token is generated per install and stored where only the user can read
// it; the application sends it as "Authorization: Bearer TOKEN", a header
// browsers cannot set on a websocket, so a web page can never use it.
type AppToken struct {
	Name  string // shown in consent dialogs and logs ("app:NAME")
	Token string // at least 32 characters
}

// Limits bound what one client can make the agent do.
type Limits struct {
	MaxMessageSize int // bytes per request; larger gets TOO_LARGE (default 8 KiB, as Web eID)
	MaxFrameSize   int // bytes beyond which the connection is closed (default 64 KiB)
	MaxConnections int // simultaneous websocket connections (default 64)
	// MaxConnectionsPerCaller bounds the websockets of one origin or
	// desktop application (default a quarter of MaxConnections), so one
	// caller cannot take every slot.
	MaxConnectionsPerCaller int
	// ReservedAppConnections of MaxConnections are kept for desktop
	// applications (token clients, `eid-agent status`): web origins
	// together never take them (default MaxConnections/16).
	ReservedAppConnections int
	// MaxHTTPConnections bounds the TCP connections of each listener,
	// websockets included (default MaxConnections + 64): past it a new
	// connection is closed at once instead of holding a descriptor.
	MaxHTTPConnections int
	// PageReadTimeout bounds reading a whole HTTP request (headers and
	// body) and PageWriteTimeout writing its answer; PageIdleTimeout ends
	// an idle keep-alive connection (defaults 15 s, 30 s, 60 s). A
	// websocket sets its own deadlines once upgraded.
	PageReadTimeout  time.Duration
	PageWriteTimeout time.Duration
	PageIdleTimeout  time.Duration
	RequestsPerSec   float64       // token bucket rate per connection (default 20)
	Burst            int           // token bucket size (default 40)
	MaxInFlight      int           // concurrent requests per connection (default 8)
	IdleTimeout      time.Duration // no request for this long closes the connection (default 10 min)
	PingInterval     time.Duration // default 30 s
	PongTimeout      time.Duration // default 60 s; also the read deadline
	WriteTimeout     time.Duration // per message (default 10 s)
}

// Config of a Server.
type Config struct {
	// Listen addresses: literal loopback IPs with a port
	// ("127.0.0.1:8877", "[::1]:8877"; port 0 picks one). Anything else is
	// refused: the agent never listens on a network.
	Listen []string
	// AllowedOrigins: exact "scheme://host[:port]" strings, compared byte
	// for byte with the Origin header. No wildcards.
	AllowedOrigins []string
	// AllowHTTPLoopbackOrigins admits http://localhost|127.0.0.1|[::1]
	// origins on the allow-list, for development only.
	AllowHTTPLoopbackOrigins bool
	Tokens                   []AppToken
	Limits                   Limits
	Backend                  Backend
	Consent                  Consent // nil denies every identity read, authentication and signature
	Version                  string  // agent version, reported by hello and in tokens
	// Status and Simulator enable the status and simulator.* operations
	// (extensions.go); nil leaves them out of hello's features.
	Status    StatusBackend
	Simulator SimulatorBackend
	Proofs    ProofsBackend // isi.submit and proofs.list
	// SelfOrigin admits the agent's own pages (Pages) without an
	// allow-list entry: a page whose Origin is http:// (https:// with
	// TLS) plus the exact address and port the connection arrived on
	// (never a name such as localhost, which may resolve to an address
	// another program holds), and whose websocket URL carries the page
	// key the agent gave that page when it was opened (selfpage.go). The
	// key is what tells the agent's page from a page another program
	// served at the same address before the agent started.
	SelfOrigin bool
	// Pages serves every path except /ws (the demo page and the JS
	// client, package web), after the same Host check as the websocket so
	// a DNS-rebinding page cannot read them; nil answers 404.
	Pages http.Handler
	// TLS, when set, makes every listener serve TLS (wss://), e.g. with
	// the loopback certificate of internal/loopbackca (Safari refuses ws://
	// from https:// pages). HTTP/2 is never offered: the websocket upgrade
	// needs HTTP/1.1 (RFC 6455 §4.1).
	TLS *tls.Config
	// Log gets refused connections and handshakes (reason, never
	// personal data) and net/http's own errors; nil discards.
	Log *slog.Logger
	// peerUID overrides the same-user check in tests; nil uses the OS.
	peerUID func(local, remote netip.AddrPort) (int, error)
}

// ErrConfig: the configuration is unsafe or inconsistent.
var ErrConfig = errors.New("invalid bridge configuration")

func (l *Limits) withDefaults() {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defd := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&l.MaxMessageSize, 8<<10)
	def(&l.MaxFrameSize, 64<<10)
	def(&l.MaxConnections, 64)
	def(&l.MaxConnectionsPerCaller, max(1, (l.MaxConnections+3)/4))
	if l.ReservedAppConnections <= 0 {
		l.ReservedAppConnections = l.MaxConnections / 16
	}
	l.ReservedAppConnections = min(l.ReservedAppConnections, l.MaxConnections-1)
	def(&l.MaxHTTPConnections, l.MaxConnections+64)
	def(&l.Burst, 40)
	def(&l.MaxInFlight, 8)
	if l.RequestsPerSec <= 0 {
		l.RequestsPerSec = 20
	}
	if l.MaxFrameSize < l.MaxMessageSize {
		l.MaxFrameSize = l.MaxMessageSize
	}
	defd(&l.IdleTimeout, 10*time.Minute)
	defd(&l.PingInterval, 30*time.Second)
	defd(&l.PongTimeout, 60*time.Second)
	defd(&l.WriteTimeout, 10*time.Second)
	defd(&l.PageReadTimeout, 15*time.Second)
	defd(&l.PageWriteTimeout, 30*time.Second)
	defd(&l.PageIdleTimeout, 60*time.Second)
}

// checkListen refuses anything but a loopback IP literal: "localhost"
// could resolve elsewhere, and an empty host means every interface.
func checkListen(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%w: listen %q: %v", ErrConfig, addr, err)
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || !ip.IsLoopback() || ip.Zone() != "" {
		return fmt.Errorf("%w: listen %q: only 127.0.0.1 and ::1 are allowed", ErrConfig, addr)
	}
	if ip.Is4() && ip != netip.MustParseAddr("127.0.0.1") {
		// 127.0.0.2 etc. would work but browsers and Host checks expect
		// the two canonical literals.
		return fmt.Errorf("%w: listen %q: only 127.0.0.1 and ::1 are allowed", ErrConfig, addr)
	}
	if _, err := netip.ParseAddrPort(net.JoinHostPort(host, port)); err != nil {
		return fmt.Errorf("%w: listen %q: bad port", ErrConfig, addr)
	}
	return nil
}

func (c *Config) validate() error {
	if c.Backend == nil {
		return fmt.Errorf("%w: no backend", ErrConfig)
	}
	for _, a := range c.Listen {
		if err := checkListen(a); err != nil {
			return err
		}
	}
	for _, o := range c.AllowedOrigins {
		if err := ValidateOrigin(o, c.AllowHTTPLoopbackOrigins); err != nil {
			return fmt.Errorf("%w: allowed origin: %v", ErrConfig, err)
		}
	}
	seen := map[string]bool{}
	for _, t := range c.Tokens {
		if len(t.Token) < 32 {
			return fmt.Errorf("%w: token for %q shorter than 32 characters", ErrConfig, t.Name)
		}
		if t.Name == "" || seen[t.Name] {
			return fmt.Errorf("%w: token names must be unique and non-empty", ErrConfig)
		}
		seen[t.Name] = true
	}
	if c.TLS != nil && len(c.TLS.Certificates) == 0 && c.TLS.GetCertificate == nil {
		return fmt.Errorf("%w: TLS without a certificate", ErrConfig)
	}
	c.Limits.withDefaults()
	return nil
}
