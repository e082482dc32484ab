package agent

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/eid-agent/eid-agent/card/eidfile"
	"github.com/eid-agent/eid-agent/internal/clock"

	"github.com/eid-agent/eid-agent/bridge"
	"github.com/eid-agent/eid-agent/bridge/webeid"
	"github.com/eid-agent/eid-agent/card"
	"github.com/eid-agent/eid-agent/internal/agent/audit"
	"github.com/eid-agent/eid-agent/internal/agent/config"
	"github.com/eid-agent/eid-agent/internal/agent/pinentry"
	"github.com/eid-agent/eid-agent/internal/agent/simulator"
	"github.com/eid-agent/eid-agent/internal/loopbackca"
	"github.com/eid-agent/eid-agent/internal/virtual"
)

// Daemon is `eid-agent run`: the monitor of every reader, the bridge, the
// audit journal and the consent store, assembled from a configuration.
type Daemon struct {
	Config  *config.Config
	Version string
	Log     *slog.Logger
	// Pages serves the demo page and client at "/" (nil: 404). It gets
	// the certificates the agent trusts (in simulate mode with the test
	// PKIs' roots and CAs), for the demo's token verification.
	Pages func(trust *eidfile.TrustStore) http.Handler
	// Prompt asks PINs; nil picks one from Config.PINPrompt.
	Prompt card.PINPrompt
	// Ask asks consent; nil picks one from Config.ConsentPrompt.
	Ask AskFunc

	started time.Time
	hw      Hardware
	sim     *simulator.Simulator
	monitor *Monitor
	audit   *audit.Log
	backend *Backend
	proofs  *Proofs
	consent *Consent
	srv     *bridge.Server
	tlsSrv  *bridge.Server // wss, when tls.listen is set
	trust   *eidfile.TrustStore
}

// TokenFile is the name of the desktop-application token in the state
// directory; `eid-agent status` reads it to connect.
const TokenFile = "app-token"

// LocalApp is the desktop-application name of the token in TokenFile.
const LocalApp = "local"

// Start opens everything and starts listening; Serve then runs until its
// context ends. Errors leave nothing open. Each step is a method below,
// in the order they run: a later step uses what the earlier ones set.
func (d *Daemon) Start() (err error) {
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	d.started = time.Now()
	var undo []func() // closes what the steps opened, newest first, on failure
	defer func() {
		if err != nil {
			for i := len(undo) - 1; i >= 0; i-- {
				undo[i]()
			}
		}
	}()
	if err := privateDir(d.Config.StateDir, d.Log); err != nil {
		return err
	}
	if err := d.loadTrust(); err != nil {
		return err
	}
	if err := d.openHardware(); err != nil {
		return err
	}
	if err := d.openAudit(); err != nil {
		return err
	}
	if d.audit != nil {
		undo = append(undo, func() { d.audit.Close() })
	}
	token, err := loadOrCreateToken(filepath.Join(d.Config.StateDir, TokenFile), d.Log)
	if err != nil {
		return err
	}
	d.backend = d.newBackend()
	d.consent = d.newConsent()
	counterOrigins := d.startCounter()
	d.useDiskCache()
	if err := d.openProofs(); err != nil {
		return err
	}
	bc, err := d.bridgeConfig(token, counterOrigins)
	if err != nil {
		return err
	}
	if err := d.listen(bc); err != nil {
		return err
	}
	undo = append(undo, func() { d.srv.Close() })
	return d.listenTLS(bc)
}

// loadTrust builds the certificates the agent trusts: the system's eID
// roots plus the configuration's trust_roots.
func (d *Daemon) loadTrust() (err error) {
	d.trust, err = eidfile.SystemTrustStore()
	if err != nil {
		d.Log.Warn("trust store", "err", err)
	}
	d.trust = d.trust.Clone()
	for _, f := range d.Config.TrustRoots {
		if err := d.trust.AddFile(f); err != nil {
			return fmt.Errorf("trust_roots: %w", err)
		}
	}
	return nil
}

// openHardware picks the readers (the built-in simulator, with its
// starting card, or PC/SC) and the monitor that watches them.
func (d *Daemon) openHardware() error {
	c := d.Config
	if c.Simulate {
		d.sim = simulator.New(nil)
		if c.SimulateProfile != "" {
			if err := d.sim.Insert(c.SimulateProfile); err != nil {
				return err
			}
		}
		d.hw = d.sim
	} else {
		d.hw = PCSC{}
	}
	d.monitor = NewMonitor(d.hw)
	d.monitor.Log = d.Log
	return nil
}

// openAudit opens the audit journal unless the configuration turns it
// off (d.audit stays nil then).
func (d *Daemon) openAudit() (err error) {
	a := d.Config.Audit
	if !d.Config.AuditEnabled() || a.Path == "" {
		return nil
	}
	d.audit, err = audit.Open(a.Path, audit.Options{MaxSize: int64(a.MaxSizeMB) << 20, Keep: a.Keep})
	return err
}

// newBackend assembles what answers the bridge's requests, and has it
// follow the monitor's events.
func (d *Daemon) newBackend() *Backend {
	c := d.Config
	prompt := d.Prompt
	if prompt == nil {
		prompt = d.pinPrompt()
	}
	// The agent's own pages may use the agent (bridge SelfOrigin); their
	// http://127.0.0.1:PORT origin needs http allowed for tokens.
	allowHTTP := c.AllowHTTPLoopbackOrigins || d.Pages != nil
	b := &Backend{Prompt: prompt, Trust: d.trust, QueueTimeout: c.QueueTimeout.Duration, Version: d.Version,
		Origin: webeid.OriginOptions{AllowHTTPLoopback: allowHTTP}, Hardware: d.hw, Monitor: d.monitor, Audit: d.audit, Log: d.Log, Cache: &Cache{}}
	b.AttestLimits = AttestLimits{PerInsertion: c.Attestation.PerInsertion, PerOriginHourly: c.Attestation.PerOriginHourly}
	d.monitor.OnEvent(b.noteEvent)
	return b
}

// newConsent builds the consent store. Its administrator grants are the
// configuration's, complete before the store exists and never changed
// afterwards; the demo page's grant is a separate rule (Consent.Pages)
// because its addresses are known only once the servers listen.
func (d *Daemon) newConsent() *Consent {
	c := d.Config
	ask := d.Ask
	if ask == nil {
		ask = d.consentDialog()
	}
	admin := map[string]bridge.Grant{}
	for _, g := range c.Grants {
		admin[g.Origin] = mergeGrant(admin[g.Origin], g.Permissions)
	}
	consent := &Consent{Admin: admin, Path: filepath.Join(c.StateDir, "consent.json"), Ask: ask, Audit: d.audit, Log: d.Log}
	if c.Simulate && d.Pages != nil {
		// Nothing real to protect: the demo page runs without dialogs.
		// The grant is for the page's exact origins (each address the
		// agent holds, never a name such as localhost), and admission
		// still needs the page key (bridge.Config.SelfOrigin). Outside
		// simulate mode no loopback origin is granted anything: the
		// agent's own page asks, like any origin.
		consent.Pages = d.pageOrigins
		consent.PagePermissions = config.Permissions()
	}
	return consent
}

// pageOrigins are the exact origins of the agent's own pages: each
// address the ws:// and wss:// servers hold.
func (d *Daemon) pageOrigins() []string {
	var out []string
	add := func(scheme string, s *bridge.Server) {
		if s == nil {
			return
		}
		for _, a := range s.Addrs() {
			out = append(out, scheme+a.String())
		}
	}
	add("http://", d.srv)
	add("https://", d.tlsSrv)
	return out
}

// useDiskCache keeps cached certificates and photos across restarts
// when the configuration asks for it.
func (d *Daemon) useDiskCache() {
	if c := d.Config.Cache; c.Disk && c.Dir != "" {
		d.backend.Cache = &Cache{Dir: c.Dir}
	}
}

// openProofs opens the reading-proof journal, pruning what is past its
// retention.
func (d *Daemon) openProofs() error {
	j := d.Config.Journal
	if j.Path == "" {
		return nil
	}
	d.proofs = &Proofs{Path: j.Path, Retention: time.Duration(j.RetentionDays) * 24 * time.Hour, Audit: d.audit, Log: d.Log}
	if n, err := d.proofs.Prune(clock.Now()); err != nil {
		return fmt.Errorf("reading-proof journal: %w", err)
	} else if n > 0 {
		d.Log.Info("reading proofs past retention removed", "count", n)
	}
	d.backend.Proofs = d.proofs
	return nil
}

// bridgeConfig is the websocket server's configuration: the ws:// one;
// listenTLS derives the wss:// one from it.
func (d *Daemon) bridgeConfig(token string, counterOrigins []string) (bridge.Config, error) {
	c := d.Config
	bc := bridge.Config{
		Listen:                   c.Listen,
		AllowedOrigins:           dedupe(append(c.AllowedOrigins, counterOrigins...)),
		AllowHTTPLoopbackOrigins: c.AllowHTTPLoopbackOrigins,
		SelfOrigin:               d.Pages != nil,
		Tokens:                   []bridge.AppToken{{Name: LocalApp, Token: token}},
		Limits: bridge.Limits{MaxConnections: c.Limits.MaxConnections, RequestsPerSec: c.Limits.RequestsPerSecond,
			MaxMessageSize: c.Limits.MaxMessageBytes, IdleTimeout: c.Limits.IdleTimeout.Duration},
		Backend: d.backend,
		Consent: d.consent,
		Version: d.Version,
		Status:  d,
		Log:     d.Log,
	}
	if d.sim != nil {
		bc.Simulator = simulatorBackend{d.sim}
	}
	if d.proofs != nil {
		bc.Proofs = d.proofs
	}
	if d.Pages != nil {
		pt := d.trust.Clone()
		if d.sim != nil {
			certs, err := simulator.TestCertificates()
			if err != nil {
				return bc, err
			}
			for _, c := range certs {
				pt.Add(c)
			}
		}
		bc.Pages = d.Pages(pt)
	}
	return bc, nil
}

// listen opens the ws:// server's listeners.
func (d *Daemon) listen(bc bridge.Config) (err error) {
	if d.srv, err = bridge.New(bc); err != nil {
		return err
	}
	if err := d.srv.Listen(); err != nil {
		return bridge.ExplainListenError(err, bc.Listen)
	}
	return nil
}

// listenTLS opens wss:// when tls.listen is set, for browsers that refuse
// ws:// from https pages (Safari): a second server, same everything, over
// TLS.
func (d *Daemon) listenTLS(bc bridge.Config) (err error) {
	c := d.Config.TLS
	if len(c.Listen) == 0 {
		return nil
	}
	tc, err := tlsConfig(c)
	if err != nil {
		return err
	}
	bc.Listen, bc.TLS = c.Listen, tc
	if d.tlsSrv, err = bridge.New(bc); err != nil {
		return err
	}
	if err := d.tlsSrv.Listen(); err != nil {
		return bridge.ExplainListenError(err, c.Listen)
	}
	return nil
}

// Addrs are the listening addresses of ws://.
func (d *Daemon) Addrs() []net.Addr { return d.srv.Addrs() }

// TLSAddrs are the listening addresses of wss:// (none without tls.listen).
func (d *Daemon) TLSAddrs() []net.Addr {
	if d.tlsSrv == nil {
		return nil
	}
	return d.tlsSrv.Addrs()
}

// tlsConfig loads the configured certificate, or the per-install loopback
// certificate of `eid-agent tls init`.
func tlsConfig(c config.TLS) (*tls.Config, error) {
	if c.Cert != "" {
		cert, err := tls.LoadX509KeyPair(c.Cert, c.Key)
		if err != nil {
			return nil, fmt.Errorf("tls: %w", err)
		}
		return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
	}
	dir, err := loopbackca.DefaultDir()
	if err != nil {
		return nil, err
	}
	m, err := loopbackca.Load(dir, clock.Now())
	if err != nil {
		return nil, fmt.Errorf("tls: %w (run `eid-agent tls init` first)", err)
	}
	return m.TLSConfig(), nil
}

// Serve runs until ctx ends, then shuts down: work in flight gets up to
// grace to finish (or is cancelled), clients are closed with a close
// frame, the journals are closed.
func (d *Daemon) Serve(ctx context.Context, grace time.Duration) error {
	stopBackground := d.startBackground()
	errc := make(chan error, 2)
	go func() { errc <- d.srv.Serve() }()
	if d.tlsSrv != nil {
		go func() { errc <- d.tlsSrv.Serve() }()
	}
	d.Log.Info("agent started", "version", d.Version, "simulate", d.sim != nil, "listen", addrsString(d.srv.Addrs()))
	var serveErr error
	select {
	case serveErr = <-errc:
	case <-ctx.Done():
		d.Log.Info("shutting down")
	}
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := d.srv.Shutdown(sctx); err != nil && serveErr == nil && !errors.Is(err, http.ErrServerClosed) {
		serveErr = err
	}
	if d.tlsSrv != nil {
		if err := d.tlsSrv.Shutdown(sctx); err != nil && serveErr == nil && !errors.Is(err, http.ErrServerClosed) {
			serveErr = err
		}
	}
	stopBackground()
	d.backend.Close()
	if d.audit != nil {
		d.audit.Close()
	}
	d.Log.Info("agent stopped")
	if errors.Is(serveErr, http.ErrServerClosed) {
		serveErr = nil
	}
	return serveErr
}

// startBackground starts what runs beside the servers: the reader monitor
// and the journal's daily pruning. stop ends them and waits for the
// monitor.
func (d *Daemon) startBackground() (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	monitorDone := make(chan struct{})
	go func() {
		defer close(monitorDone)
		if err := d.monitor.Run(ctx); err != nil && ctx.Err() == nil {
			d.Log.Error("reader monitor stopped", "err", err)
		}
	}()
	if d.proofs != nil && d.proofs.Retention > 0 {
		go d.pruneDaily(ctx)
	}
	return func() {
		cancel()
		<-monitorDone
	}
}

// pruneDaily prunes the reading-proof journal once a day until ctx ends:
// an agent may run for months.
func (d *Daemon) pruneDaily(ctx context.Context) {
	t := time.NewTicker(24 * time.Hour)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			if _, err := d.proofs.Prune(now); err != nil {
				d.Log.Error("reading-proof journal prune", "err", err)
			}
		}
	}
}

// AgentStatus is the agent part of the status answer (bridge adds the
// connection count).
type AgentStatus struct {
	Version      string    `json:"version"`
	PID          int       `json:"pid"`
	StartedAt    time.Time `json:"startedAt"`
	Simulate     bool      `json:"simulate"`
	Service      string    `json:"service"`
	ServiceSince time.Time `json:"serviceSince"`
	// ServiceError is the PC/SC error that took the service away while
	// it is down, for the help desk.
	ServiceError string           `json:"serviceError,omitempty"`
	Readers      []ReaderSnapshot `json:"readers"`
	Subscribers  int              `json:"subscribers"`
	Listen       []string         `json:"listen"`
	Audit        bool             `json:"audit"`
	// Goroutines and HeapBytes let a soak test (and a curious admin)
	// see that nothing grows.
	Goroutines int    `json:"goroutines"`
	HeapBytes  uint64 `json:"heapBytes"`
}

// Status implements bridge.StatusBackend.
func (d *Daemon) Status(ctx context.Context) (json.RawMessage, error) {
	snap := d.monitor.Snapshot()
	st := AgentStatus{Version: d.Version, PID: os.Getpid(), StartedAt: d.started.UTC().Round(time.Second),
		Simulate: d.sim != nil, Service: snap.Service, ServiceSince: snap.ServiceSince.UTC().Round(time.Millisecond), ServiceError: snap.ServiceError,
		Readers: snap.Readers, Subscribers: snap.Subscribers, Audit: d.audit != nil, Goroutines: runtime.NumGoroutine()}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	st.HeapBytes = ms.HeapAlloc
	for i := range st.Readers {
		st.Readers[i].Since = st.Readers[i].Since.UTC().Round(time.Millisecond)
	}
	for _, a := range d.srv.Addrs() {
		st.Listen = append(st.Listen, a.String())
	}
	return json.Marshal(st)
}

// Simulator returns the built-in virtual reader in simulate mode, else nil.
func (d *Daemon) Simulator() *simulator.Simulator { return d.sim }

// Monitor returns the reader monitor.
func (d *Daemon) Monitor() *Monitor { return d.monitor }

type simulatorBackend struct{ s *simulator.Simulator }

func (b simulatorBackend) SimulatorProfiles() []string { return simulator.Profiles() }
func (b simulatorBackend) SimulatorInsert(_ context.Context, p string) error {
	return b.s.Insert(p)
}
func (b simulatorBackend) SimulatorRemove(context.Context) error { b.s.Remove(); return nil }

// pinPrompt picks the PIN dialog from the configuration.
func (d *Daemon) pinPrompt() card.PINPrompt {
	c := d.Config
	switch c.PINPrompt {
	case "none":
		return nil
	case "terminal":
		return pinentry.Terminal(os.Stdin, os.Stderr)
	case "auto":
		if c.Simulate {
			// The simulated reader behaves as a PIN-pad reader on which
			// the simulated holder types the virtual cards' PIN: the
			// demo runs with nothing installed, and the PIN still never
			// crosses the websocket. pin_prompt = "pinentry" overrides.
			return func(ctx context.Context, req card.PINRequest) ([]byte, error) {
				d.Log.Info("simulated PIN entry", "reader", req.Reader)
				return []byte(virtual.DefaultPIN), nil
			}
		}
	}
	prog := d.pinentryProgram("operations that need the PIN will fail unless the reader has a PIN pad")
	if prog == "" {
		return nil
	}
	return (&pinentry.Dialog{Program: prog}).Prompt
}

// pinentryProgram is the configured pinentry, or the first one on the
// PATH; "" (logged with what it costs) when there is none.
func (d *Daemon) pinentryProgram(without string) string {
	if p := d.Config.PinentryProgram; p != "" {
		return p
	}
	p, err := pinentry.Find()
	if err != nil {
		d.Log.Warn("no pinentry program: " + without)
		return ""
	}
	return p
}

// consentDialog picks the consent dialog from the configuration.
func (d *Daemon) consentDialog() AskFunc {
	if d.Config.ConsentPrompt == "none" {
		return nil
	}
	prog := d.pinentryProgram("origins not granted in the configuration will be refused")
	if prog == "" {
		return nil
	}
	dlg := &pinentry.Dialog{Program: prog, Title: "eID: allow this site?"}
	return func(ctx context.Context, caller bridge.Caller, op bridge.Operation) (bool, error) {
		return dlg.Confirm(ctx, ConsentQuestion(caller, op), "_Allow", "_Deny")
	}
}

// mergeGrant adds configuration permissions to a grant.
func mergeGrant(g bridge.Grant, perms []string) bridge.Grant {
	for _, p := range perms {
		switch p {
		case "authenticate":
			g.Authenticate = true
		case "sign":
			g.Sign = true
		case "proofs-all":
			g.AllProofs = true
		default:
			g.Fields = append(g.Fields, p)
		}
	}
	return g
}

func dedupe(in []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

func addrsString(as []net.Addr) string {
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = a.String()
	}
	return strings.Join(s, ",")
}

// startCounter pairs the policy's counter applications (internal/agent/counter.go)
// and returns their web origins: pairing one admits it.
func (d *Daemon) startCounter() []string {
	if len(d.Config.Counters) == 0 {
		return nil
	}
	var apps []CounterApp
	var origins []string
	for _, k := range d.Config.Counters {
		apps = append(apps, CounterApp{Client: k.Client, Fields: k.Fields, Attestation: k.Attestation, Revocation: k.Revocation})
		if !strings.HasPrefix(k.Client, "app:") {
			origins = append(origins, k.Client)
		}
	}
	ctr := NewCounter(d.backend, apps)
	ctr.Revocation = OCSPChecker{}.Check
	d.Log.Info("counter mode", "applications", len(apps))
	return origins
}
