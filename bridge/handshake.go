package bridge

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
)

// checkHost stops DNS rebinding: a page on evil.example that rebinds its
// name to 127.0.0.1 still sends "Host: evil.example:PORT". Only the
// loopback names with the port we listen on are accepted.
func checkHost(host string, port int) bool {
	h, p, err := net.SplitHostPort(host)
	if err != nil {
		// No port: only valid for port 80.
		h, p = host, "80"
		if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
			h = host[1 : len(host)-1]
		}
	}
	if p != strconv.Itoa(port) {
		return false
	}
	switch strings.ToLower(h) {
	case "localhost", "127.0.0.1", "::1":
		return true
	}
	return false
}

// checkOrigin compares the Origin header with the allow-list, byte for
// byte: no suffix match, no case folding, no wildcard.
func (s *Server) checkOrigin(origin string) bool {
	for _, o := range s.cfg.AllowedOrigins {
		if o == origin {
			return true
		}
	}
	return false
}

// checkToken returns the application whose token the Authorization header
// carries. Comparing SHA-256 digests in constant time hides both the
// token and its length from timing.
func (s *Server) checkToken(h string) (string, bool) {
	const prefix = "Bearer "
	if len(h) <= len(prefix) || !strings.EqualFold(h[:len(prefix)], prefix) {
		return "", false
	}
	got := sha256.Sum256([]byte(strings.TrimSpace(h[len(prefix):])))
	name, found := "", 0
	for i, want := range s.tokenHashes {
		if subtle.ConstantTimeCompare(got[:], want[:]) == 1 {
			name, found = s.cfg.Tokens[i].Name, 1
		}
	}
	return name, found == 1
}

// admit runs the handshake checks in order and returns who is calling, or
// writes the refusal. The order matters: Host first (a rebinding page must
// learn nothing), then the peer's OS user (checked at accept already when
// the Server serves its own listeners: another user learns nothing about
// the allowed origins), then Origin (the allow-list, or the agent's own
// page with its page key) or the desktop token.
func (s *Server) admit(w http.ResponseWriter, r *http.Request) (Caller, bool) {
	localAP := localAddrPort(r)
	if !checkHost(r.Host, int(localAP.Port())) {
		s.refuse(w, r, http.StatusForbidden, NewError(CodeHostNotAllowed, "Host header is not a loopback name with the agent's port"))
		return Caller{}, false
	}
	if e := s.peerCheck(r, localAP); e != nil {
		s.refuse(w, r, http.StatusForbidden, e)
		return Caller{}, false
	}
	var c Caller
	origin, hasOrigin := r.Header["Origin"]
	switch {
	case hasOrigin:
		// A browser always sends Origin; a token never overrides it, so
		// a page cannot borrow a desktop app's rights.
		switch {
		case len(origin) != 1:
			s.refuse(w, r, http.StatusForbidden, NewError(CodeOriginNotAllowed, "more than one Origin"))
			return Caller{}, false
		case s.checkOrigin(origin[0]):
		case s.cfg.SelfOrigin && origin[0] == s.selfOrigin(localAP):
			if !s.pageKeyOK(r.URL.Query().Get(PageKeyParam)) {
				s.refuse(w, r, http.StatusForbidden, NewError(CodeOriginNotAllowed,
					"the agent's own page needs the page key it gets when opened from the address bar: open "+s.selfOrigin(localAP)+"/ again"))
				return Caller{}, false
			}
		default:
			s.refuse(w, r, http.StatusForbidden, NewError(CodeOriginNotAllowed, "Origin is not on the allow-list"))
			return Caller{}, false
		}
		c.Origin = origin[0]
	default:
		auth := r.Header.Get("Authorization")
		if auth == "" {
			s.refuse(w, r, http.StatusForbidden, NewError(CodeOriginNotAllowed, "no Origin and no application token"))
			return Caller{}, false
		}
		name, ok := s.checkToken(auth)
		if !ok {
			s.refuse(w, r, http.StatusForbidden, NewError(CodeUnauthorized, "application token not recognised"))
			return Caller{}, false
		}
		c.App = name
	}
	return c, true
}

// peerCheck refuses a peer that is not on this machine or, where the OS
// tells, belongs to another OS user; nil when the listener has screened
// the connection already (guardListener).
func (s *Server) peerCheck(r *http.Request, local netip.AddrPort) *Error {
	if screened(r.Context()) {
		return nil
	}
	remoteAP, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil || !remoteAP.Addr().Unmap().IsLoopback() {
		return NewError(CodeOtherUser, "peer is not on this machine")
	}
	if err := s.checkPeerUser(local, remoteAP); err != nil {
		return NewError(CodeOtherUser, err.Error())
	}
	return nil
}

// refuse logs a refused request (its code and reason, the path, and the
// Origin it named, bounded: no personal data) and answers it.
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, status int, e *Error) {
	args := []any{"code", e.Code, "reason", e.Detail, "path", logValue(r.URL.Path, 64)}
	if o := r.Header.Get("Origin"); o != "" {
		args = append(args, "origin", logValue(o, 100))
	}
	s.refusals.log("request refused", args...)
	refuse(w, status, e)
}

// refuse answers a refused upgrade with a JSON body naming the reason, and
// no CORS headers: a page's script must not be able to read it.
func refuse(w http.ResponseWriter, status int, e *Error) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(struct {
		Error *Error `json:"error"`
	}{e})
}

// selfScheme is the scheme of the agent's own pages on this server.
func (s *Server) selfScheme() string {
	if s.cfg.TLS != nil {
		return "https://"
	}
	return "http://"
}
