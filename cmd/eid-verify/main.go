// Command eid-verify is the reference web service for eid-agent: a login
// page that authenticates a Belgian eID holder through the local agent
// (Web eID token, verified with package verify) and shows a verified
// identity read (identity bundle, verified with the same code the agent
// uses). It is meant to be read as much as run: docs/verify.md walks
// through it.
//
//	eid-verify --listen 127.0.0.1:8443 --origin https://verify.example \
//	    --tls-cert cert.pem --tls-key key.pem --trust-root belgium.pem \
//	    [--ocsp required|best-effort|off] [--agent ws://127.0.0.1:8877/ws] \
//	    [--redis redis://host:6379/0 [--redis-ca ca.pem]]
//
// With --redis (or EID_VERIFY_REDIS) sessions, nonces and OCSP answers
// live in Redis (verify/redisstore) and the instance keeps no state of its
// own: any number of them can serve one origin behind a load balancer.
// GET /healthz reports whether the store answers.
//
// It builds without cgo and has no PC/SC dependency.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/eid-agent/eid-agent/bridge/webeid"
	"github.com/eid-agent/eid-agent/card/eidfile"
	"github.com/eid-agent/eid-agent/verify"
	"github.com/eid-agent/eid-agent/verify/redisstore"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr, nil))
}

// Exit statuses.
const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
)

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// options are the command line, parsed and checked.
type options struct {
	listen, origin, agent string
	tlsCert, tlsKey       string
	trustRoots            []string
	ocsp                  verify.OCSPPolicy
	clientJS              string
	redis                 string // URL; "" keeps the state in memory
	redisCA               *x509.CertPool
}

// envRedis names the environment variable that sets --redis (the URL may
// hold a password, which a command line shows to every local user).
const envRedis = "EID_VERIFY_REDIS"

func parseOptions(args []string, stderr io.Writer) (*options, error) {
	fs := flag.NewFlagSet("eid-verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := &options{}
	var roots listFlag
	ocsp := fs.String("ocsp", "required", "revocation check: `required`, best-effort or off")
	fs.StringVar(&o.listen, "listen", "127.0.0.1:8443", "`ADDR` to listen on")
	fs.StringVar(&o.origin, "origin", "", "the service's own origin as browsers send it, `https://host[:port]` (required; tokens are checked against it)")
	fs.StringVar(&o.agent, "agent", "ws://127.0.0.1:8877/ws", "websocket `URL` of the local agent, as the page reaches it")
	fs.StringVar(&o.tlsCert, "tls-cert", "", "TLS certificate `FILE` (PEM); with --tls-key, serve HTTPS")
	fs.StringVar(&o.tlsKey, "tls-key", "", "TLS private key `FILE` (PEM)")
	fs.Var(&roots, "trust-root", "trust the certificates of `FILE` (PEM or DER, repeatable): self-signed ones as roots, the others as intermediate CAs (Citizen CA)")
	fs.StringVar(&o.clientJS, "client-js", "", "serve this `FILE` as /eid-agent.js instead of the built-in client (internal/web/eid-agent.js)")
	redisCA := fs.String("redis-ca", "", "PEM `FILE` of the CA certificates that sign Redis's TLS certificate (rediss://), instead of the system's")
	fs.StringVar(&o.redis, "redis", "", "keep sessions, nonces and OCSP answers in Redis at `URL` (redis://[user:pass@]host:6379/0, rediss:// for TLS), so that several instances serve one origin; default $"+envRedis)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if o.redis == "" {
		// Not the flag's default: --help would print the password.
		o.redis = os.Getenv(envRedis)
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	o.trustRoots = roots
	switch *ocsp {
	case "required":
		o.ocsp = verify.OCSPRequired
	case "best-effort":
		o.ocsp = verify.OCSPBestEffort
	case "off":
		o.ocsp = verify.OCSPOff
	default:
		return nil, fmt.Errorf("--ocsp %q: want required, best-effort or off", *ocsp)
	}
	if o.origin == "" {
		return nil, errors.New("--origin is required: the origin the browser shows for this service")
	}
	// The same rule the agent applies: https, or http on a loopback host
	// for development.
	if err := webeid.ValidateOrigin(o.origin, webeid.OriginOptions{AllowHTTPLoopback: true}); err != nil {
		return nil, fmt.Errorf("--origin: %w", err)
	}
	u, err := url.Parse(o.agent)
	if err != nil || (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" {
		return nil, fmt.Errorf("--agent %q: want ws://HOST:PORT/PATH or wss://HOST:PORT/PATH", o.agent)
	}
	if (o.tlsCert == "") != (o.tlsKey == "") {
		return nil, errors.New("--tls-cert and --tls-key go together")
	}
	if *redisCA != "" {
		if o.redis == "" {
			return nil, errors.New("--redis-ca goes with --redis (or " + envRedis + ")")
		}
		pem, err := os.ReadFile(*redisCA)
		if err != nil {
			return nil, fmt.Errorf("--redis-ca: %w", err)
		}
		o.redisCA = x509.NewCertPool()
		if !o.redisCA.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--redis-ca %s: no PEM certificate", *redisCA)
		}
	}
	if o.redis != "" {
		if _, err := redisstore.ClientOptions(o.redis, o.redisCA); err != nil {
			// The parser's message may quote the URL: show it redacted.
			return nil, fmt.Errorf("--redis %s: %s", redactURL(o.redis), strings.ReplaceAll(err.Error(), o.redis, redactURL(o.redis)))
		}
	}
	return o, nil
}

// loadTrust reads the --trust-root files into the token validator's pools
// and the bundle verifier's store (which starts from the embedded roots).
func loadTrust(files []string) (roots, inters *x509.CertPool, store *eidfile.TrustStore, err error) {
	roots, inters = x509.NewCertPool(), x509.NewCertPool()
	store = eidfile.DefaultTrustStore().Clone()
	for _, f := range eidfile.DefaultTrustStore().Roots() {
		roots.AddCert(f)
	}
	for _, name := range files {
		one := &eidfile.TrustStore{}
		if err := one.AddFile(name); err != nil {
			return nil, nil, nil, err
		}
		for _, c := range one.Roots() {
			store.Add(c)
			if isSelfSigned(c) {
				roots.AddCert(c)
			} else {
				inters.AddCert(c)
			}
		}
	}
	return roots, inters, store, nil
}

func isSelfSigned(c *x509.Certificate) bool {
	return string(c.RawIssuer) == string(c.RawSubject) && c.CheckSignatureFrom(c) == nil
}

// run is main without the process: tests call it. ready, when not nil,
// gets the listening address once the server accepts connections.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, ready func(addr string)) int {
	o, err := parseOptions(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintln(stderr, "eid-verify:", err)
		return exitUsage
	}
	roots, inters, store, err := loadTrust(o.trustRoots)
	if err != nil {
		fmt.Fprintln(stderr, "eid-verify: --trust-root:", err)
		return exitFail
	}
	var clientJS []byte
	if o.clientJS != "" {
		if clientJS, err = os.ReadFile(o.clientJS); err != nil {
			fmt.Fprintln(stderr, "eid-verify: --client-js:", err)
			return exitFail
		}
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	cfg := config{
		Origin:   o.origin,
		AgentURL: o.agent,
		Bundles:  &verify.BundleVerifier{Trust: store},
		ClientJS: clientJS,
		Log:      log,
	}
	var ocspCache verify.OCSPCache
	if o.redis != "" {
		client, err := redisstore.NewClient(o.redis, o.redisCA)
		if err != nil {
			fmt.Fprintln(stderr, "eid-verify: --redis:", err)
			return exitUsage
		}
		defer client.Close()
		redisstore.SetLogger(log)
		rs := redisstore.New(client, redisstore.Options{})
		cfg.Nonces, cfg.Sessions, cfg.Store, cfg.Health = rs.Nonces(), rs.Sessions(sessionTTL), "redis", rs.Ping
		ocspCache = rs.OCSPCache()
		// Redis may come up after us: serve (503 and an unhealthy
		// /healthz) until it answers, rather than exit.
		if err := rs.Ping(ctx); err != nil {
			log.Warn("Redis does not answer yet: logins fail until it does", "err", err)
		}
	} else {
		cfg.Nonces = &verify.MemoryNonceStore{}
	}
	cfg.Validator = &verify.Validator{
		Roots: roots, Intermediates: inters, Nonces: cfg.Nonces,
		OCSP: verify.OCSPConfig{Policy: o.ocsp, Cache: ocspCache},
	}
	srv, err := newServer(cfg)
	if err != nil {
		fmt.Fprintln(stderr, "eid-verify:", err)
		return exitUsage
	}
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		fmt.Fprintln(stderr, "eid-verify:", err)
		return exitFail
	}
	hs := &http.Server{
		Handler:           srv,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		// OCSP may take up to its own timeout (5 s) within a login.
		WriteTimeout:   60 * time.Second,
		IdleTimeout:    2 * time.Minute,
		MaxHeaderBytes: 16 << 10,
		ErrorLog:       slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	scheme := "http"
	if o.tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(o.tlsCert, o.tlsKey)
		if err != nil {
			ln.Close()
			fmt.Fprintln(stderr, "eid-verify: TLS:", err)
			return exitFail
		}
		hs.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		ln = tls.NewListener(ln, hs.TLSConfig)
		scheme = "https"
	}
	if strings.HasPrefix(o.origin, "https://") && scheme == "http" {
		log.Warn("serving plain HTTP for an https origin: a TLS-terminating proxy must be in front")
	}
	state := "state in memory"
	if o.redis != "" {
		state = "state in Redis at " + redactURL(o.redis)
	}
	fmt.Fprintf(stdout, "eid-verify: %s://%s for origin %s (agent %s, %s)\n", scheme, ln.Addr(), o.origin, o.agent, state)
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	if ready != nil {
		ready(ln.Addr().String())
	}
	select {
	case err := <-errc:
		fmt.Fprintln(stderr, "eid-verify:", err)
		return exitFail
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		hs.Shutdown(sctx)
		return exitOK
	}
}

// sessionTTL is a session's idle lifetime (config.SessionTTL's default).
const sessionTTL = 30 * time.Minute

// redactURL hides the password of a Redis URL for messages.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}
