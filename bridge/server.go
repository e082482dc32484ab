package bridge

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// Server is the websocket endpoint. Create it with New, then either mount
// it as an http.Handler or call Serve/ListenAndServe.
type Server struct {
	cfg         Config
	tokenHashes [][sha256.Size]byte
	upgrader    websocket.Upgrader
	slots       slots
	open        atomic.Int64 // TCP connections (guardListener)
	otherOpen   atomic.Int64 // other users' connections being answered
	pageKey     string       // of the agent's own pages (selfpage.go)
	refusals    *refusalLog
	wg          sync.WaitGroup

	mu        sync.Mutex
	listeners []net.Listener
	http      *http.Server
	ctx       context.Context // cancelled by Close: ends every connection
	stop      context.CancelFunc
}

// New checks cfg and returns a Server. Unsafe settings (a non-loopback
// listen address, a malformed or wildcard origin, a short token) are
// errors wrapping ErrConfig.
func New(cfg Config) (*Server, error) {
	cfg.AllowedOrigins = append([]string(nil), cfg.AllowedOrigins...)
	cfg.Tokens = append([]AppToken(nil), cfg.Tokens...)
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, refusals: newRefusalLog(cfg.Log)}
	s.slots.lim = s.cfg.Limits
	if cfg.SelfOrigin {
		s.pageKey = newPageKey()
	}
	s.ctx, s.stop = context.WithCancel(context.Background())
	for _, t := range cfg.Tokens {
		s.tokenHashes = append(s.tokenHashes, sha256.Sum256([]byte(t.Token)))
	}
	s.upgrader = websocket.Upgrader{
		HandshakeTimeout: 10 * time.Second,
		ReadBufferSize:   1024,
		WriteBufferSize:  1024,
		// admit already checked Origin against the exact allow-list
		// (or a token when there is none); gorilla's default would
		// reject token clients' absent Origin differently.
		CheckOrigin:       func(*http.Request) bool { return true },
		EnableCompression: false, // compression bombs and CRIME-style leaks
		WriteBufferPool:   &sync.Pool{},
	}
	return s, nil
}

// ServeHTTP serves /ws, and every other path from cfg.Pages (404 when
// nil). Pages get the websocket's Host check first: a DNS-rebinding page
// (Host: evil.example:PORT) must not read them either.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/ws" {
		s.servePage(w, r)
		return
	}
	caller, ok := s.admit(w, r)
	if !ok {
		return
	}
	if !websocket.IsWebSocketUpgrade(r) {
		refuse(w, http.StatusBadRequest, NewError(CodeBadRequest, "websocket upgrade expected"))
		return
	}
	release, why := s.slots.acquire(caller)
	if release == nil {
		s.refuse(w, r, http.StatusServiceUnavailable, NewError(CodeTooManyConnections, why))
		return
	}
	ws, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		release()
		return // gorilla has answered
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer release()
		newConn(s, ws, caller).run()
	}()
}

// Addrs returns the bound addresses after Listen: the configured ones
// first, then the other loopback address of each port.
func (s *Server) Addrs() []net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []net.Addr
	for _, l := range s.listeners {
		out = append(out, l.Addr())
	}
	return out
}

// Serve serves the listeners opened by Listen until Close.
func (s *Server) Serve() error {
	s.mu.Lock()
	lim := s.cfg.Limits
	hs := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 5 * time.Second,
		// A page request and its body must arrive, and its answer leave,
		// in bounded time, or a client that sends a byte now and then
		// holds its connection forever. A websocket sets its own
		// deadlines once upgraded (gorilla clears these).
		ReadTimeout:    lim.PageReadTimeout,
		WriteTimeout:   lim.PageWriteTimeout,
		IdleTimeout:    lim.PageIdleTimeout,
		MaxHeaderBytes: 16 << 10,
		ErrorLog:       newHTTPErrorLog(s.cfg.Log),
		ConnContext: func(ctx context.Context, _ net.Conn) context.Context {
			return context.WithValue(ctx, screenedKey{}, true)
		},
	}
	s.http = hs
	ls := make([]net.Listener, len(s.listeners))
	for i, l := range s.listeners {
		ls[i] = guardListener{Listener: l, s: s, open: &s.open}
	}
	if s.cfg.TLS != nil {
		// TLS over each listener ourselves rather than ServeTLS, which
		// would add "h2" to ALPN: a browser would then try the upgrade
		// over HTTP/2, which the websocket library cannot serve.
		tc := s.cfg.TLS.Clone()
		tc.NextProtos = []string{"http/1.1"}
		for i, l := range ls {
			ls[i] = tls.NewListener(l, tc)
		}
	}
	s.mu.Unlock()
	errc := make(chan error, len(ls))
	for _, l := range ls {
		go func() { errc <- hs.Serve(l) }()
	}
	err := <-errc
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Close stops listening, closes every connection (cancelling their
// operations) and waits for them.
func (s *Server) Close() error {
	s.mu.Lock()
	s.stop()
	hs := s.http
	ls := s.listeners
	s.mu.Unlock()
	var err error
	if hs != nil {
		err = hs.Close()
	} else {
		for _, l := range ls {
			l.Close()
		}
	}
	s.wg.Wait()
	return err
}

// Shutdown is Close bounded by ctx.
func (s *Server) Shutdown(ctx context.Context) error {
	done := make(chan error, 1)
	go func() { done <- s.Close() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}
