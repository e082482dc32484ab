package bridge

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"net"
	"net/http"
	"net/netip"
)

// The agent's own pages (Config.Pages with SelfOrigin) use the agent
// without an allow-list entry. Their origin alone cannot say they are the
// agent's: an origin is scheme, host and port, and at another moment
// (before the agent started, between two runs) another program, of this
// user or another, may have served a page at the same address, which the
// browser keeps running and which would look exactly like the agent's. So:
//
//   - The self origin is the exact address and port the connection
//     arrived on (http://127.0.0.1:PORT, http://[::1]:PORT), never a name:
//     "localhost" resolves to both addresses, and Listen holds both so no
//     other program can answer at the other one meanwhile. Pages asked
//     for under another loopback name are redirected to the address.
//   - Each start of the agent draws a page key. The page gets it in its
//     own URL (?key=...) when the browser opens "/" on behalf of the user
//     (address bar, bookmark, another program such as a terminal), and
//     must put it in its websocket URL (/ws?key=...). A page another
//     program served never received the current key and cannot obtain it:
//     a script of that origin fetching or opening "/" is a same-origin
//     request, which gets no key (Fetch Metadata, below).
//
// docs/daemon.md ("Shared machines") says what this does not cover.

// PageKeyParam is the query parameter carrying the page key, in the page's
// URL and in its websocket URL.
const PageKeyParam = "key"

func newPageKey() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// hostPort is the canonical "127.0.0.1:PORT" or "[::1]:PORT" of ap.
func hostPort(ap netip.AddrPort) string {
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()).String()
}

// selfOrigin is the origin of the agent's own pages served over the
// connection whose local end is local.
func (s *Server) selfOrigin(local netip.AddrPort) string {
	return s.selfScheme() + hostPort(local)
}

// pageKeyOK compares in constant time (the key has a fixed length).
func (s *Server) pageKeyOK(k string) bool {
	return s.pageKey != "" && subtle.ConstantTimeCompare([]byte(k), []byte(s.pageKey)) == 1
}

// keyNavigation: r is a top-level navigation that the user started. The
// browser says so in the Fetch Metadata headers, which no script can set
// or forge: Sec-Fetch-Site "none" means the user typed the address, chose
// a bookmark, or another program (a terminal, `xdg-open`) opened it.
// Everything a page can start carries its own site: "same-origin" for a
// page of this very origin (how a page another program served here earlier
// would try: a same-origin window it opened is one it can read), and
// "cross-site" or "same-site" for another site, including a redirect chain
// a page of this origin starts through another site, whose result would
// land in a window that page can still read. A browser without Fetch
// Metadata gets no key.
func keyNavigation(r *http.Request) bool {
	return r.Method == http.MethodGet && r.Header.Get("Sec-Fetch-Mode") == "navigate" &&
		r.Header.Get("Sec-Fetch-Dest") == "document" && r.Header.Get("Sec-Fetch-Site") == "none"
}

// servePage serves every path but /ws from Config.Pages, after the Host
// check (a DNS-rebinding page must not read them either), the peer's OS
// user (when the listener has not checked it), the canonical address and
// the page key.
func (s *Server) servePage(w http.ResponseWriter, r *http.Request) {
	local := localAddrPort(r)
	if !checkHost(r.Host, int(local.Port())) {
		s.refuse(w, r, http.StatusForbidden, NewError(CodeHostNotAllowed, "Host header is not a loopback name with the agent's port"))
		return
	}
	if e := s.peerCheck(r, local); e != nil {
		s.refuse(w, r, http.StatusForbidden, e)
		return
	}
	if s.cfg.Pages == nil {
		refuse(w, http.StatusNotFound, NewError(CodeBadRequest, "not found"))
		return
	}
	if own := hostPort(local); r.Host != own {
		// http://localhost:PORT/ and the like: the page lives at the
		// address, whose origin is the one the agent admits.
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			s.refuse(w, r, http.StatusForbidden, NewError(CodeHostNotAllowed, "the agent's pages are at "+s.selfScheme()+own))
			return
		}
		selfPageHeaders(w.Header())
		http.Redirect(w, r, s.selfScheme()+own+r.URL.RequestURI(), http.StatusPermanentRedirect)
		return
	}
	if s.cfg.SelfOrigin && r.URL.Path == "/" && keyNavigation(r) && r.URL.Query().Get(PageKeyParam) != s.pageKey {
		q := r.URL.Query()
		q.Set(PageKeyParam, s.pageKey)
		selfPageHeaders(w.Header())
		// Whatever another program served at this address earlier may
		// still sit in the browser: scripts cached for a year that the
		// agent's page would load from cache with the new key in its URL,
		// a service worker that would answer for the page. The browser
		// drops the origin's cache and storage (service workers included)
		// before it follows this redirect, so the page the key lands on
		// and everything it loads come from the agent.
		w.Header().Set("Clear-Site-Data", `"cache", "storage"`)
		http.Redirect(w, r, "/?"+q.Encode(), http.StatusSeeOther)
		return
	}
	s.cfg.Pages.ServeHTTP(w, r)
}

// selfPageHeaders go on the agent's redirects: not stored, not framed,
// the URL (and its key) not sent on, and the page in a browsing context
// group of its own (Cross-Origin-Opener-Policy), away from whatever
// opened it.
func selfPageHeaders(h http.Header) {
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", "frame-ancestors 'none'")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("X-Content-Type-Options", "nosniff")
}

func localAddrPort(r *http.Request) netip.AddrPort {
	a, _ := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	return addrPortOf(a)
}
