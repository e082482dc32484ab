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
// learn nothing), then Origin / token, then the peer's OS user.
func (s *Server) admit(w http.ResponseWriter, r *http.Request) (Caller, bool) {
	local, _ := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	localAP, _ := netip.ParseAddrPort(addrString(local))
	if !checkHost(r.Host, int(localAP.Port())) {
		refuse(w, http.StatusForbidden, NewError(CodeHostNotAllowed, "Host header is not a loopback name with the agent's port"))
		return Caller{}, false
	}
	var c Caller
	origin, hasOrigin := r.Header["Origin"]
	switch {
	case hasOrigin:
		// A browser always sends Origin; a token never overrides it, so
		// a page cannot borrow a desktop app's rights.
		if len(origin) != 1 || !(s.checkOrigin(origin[0]) || s.cfg.SelfOrigin && origin[0] == s.selfScheme()+r.Host) {
			refuse(w, http.StatusForbidden, NewError(CodeOriginNotAllowed, "Origin is not on the allow-list"))
			return Caller{}, false
		}
		c.Origin = origin[0]
	default:
		auth := r.Header.Get("Authorization")
		if auth == "" {
			refuse(w, http.StatusForbidden, NewError(CodeOriginNotAllowed, "no Origin and no application token"))
			return Caller{}, false
		}
		name, ok := s.checkToken(auth)
		if !ok {
			refuse(w, http.StatusForbidden, NewError(CodeUnauthorized, "application token not recognised"))
			return Caller{}, false
		}
		c.App = name
	}
	remoteAP, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil || !remoteAP.Addr().Unmap().IsLoopback() {
		refuse(w, http.StatusForbidden, NewError(CodeOtherUser, "peer is not on this machine"))
		return Caller{}, false
	}
	if err := s.checkPeerUser(localAP, remoteAP); err != nil {
		refuse(w, http.StatusForbidden, NewError(CodeOtherUser, err.Error()))
		return Caller{}, false
	}
	return c, true
}

func addrString(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
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
