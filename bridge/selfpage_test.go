package bridge_test

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/eid-agent/eid-agent/bridge"
	"github.com/eid-agent/eid-agent/bridge/client"
	"github.com/eid-agent/eid-agent/internal/lab"
)

// noRedirect is a client that shows redirects instead of following them.
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// navigation is what a browser sends when the user opens url from the
// address bar (site "none"), a link of another site ("cross-site"), or a
// page of the same origin ("same-origin").
func navigation(t *testing.T, url, site string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Sec-Fetch-Mode", "navigate")
	req.Header.Set("Sec-Fetch-Dest", "document")
	req.Header.Set("Sec-Fetch-Site", site)
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// TestSelfPageKey: the agent's own page gets its page key only on a
// navigation the user started (Sec-Fetch-Site: none), and its websocket is
// admitted only with that key, from the exact address it was served
// from. A page another program served at the same origin (which knows no
// key, and gets none by fetching or opening "/" itself) is refused.
func TestSelfPageKey(t *testing.T) {
	var calls atomic.Int64
	pages := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { calls.Add(1); fmt.Fprint(w, "page") })
	ts := start(t, func(c *bridge.Config) { c.SelfOrigin = true; c.Pages = pages })
	key := ts.srv.PageKey()
	if len(key) < 40 {
		t.Fatalf("page key %q", key)
	}
	base := fmt.Sprintf("http://127.0.0.1:%d", ts.port)

	for _, tc := range []struct {
		name, path, site string
		mode, dest       string
		redirect         bool
	}{
		{"address bar", "/", "none", "navigate", "document", true},
		{"address bar with query", "/?lang=nl", "none", "navigate", "document", true},
		{"link from another site", "/", "cross-site", "navigate", "document", false},
		{"another port of 127.0.0.1", "/", "same-site", "navigate", "document", false},
		{"stale key", "/?key=old", "none", "navigate", "document", true},
		{"current key", "/?key=" + key, "none", "navigate", "document", false},
		{"same origin navigation", "/", "same-origin", "navigate", "document", false},
		{"same origin fetch", "/", "same-origin", "cors", "empty", false},
		{"frame", "/", "cross-site", "navigate", "iframe", false},
		{"no fetch metadata", "/", "", "", "", false},
		{"other path", "/demo/", "none", "navigate", "document", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, base+tc.path, nil)
			for k, v := range map[string]string{"Sec-Fetch-Site": tc.site, "Sec-Fetch-Mode": tc.mode, "Sec-Fetch-Dest": tc.dest} {
				if v != "" {
					req.Header.Set(k, v)
				}
			}
			resp, err := noRedirect.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			loc := resp.Header.Get("Location")
			if !tc.redirect {
				if resp.StatusCode != 200 || loc != "" {
					t.Fatalf("status %d location %q: the key was handed out", resp.StatusCode, loc)
				}
				return
			}
			u, err := url.Parse(loc)
			if resp.StatusCode != http.StatusSeeOther || err != nil || u.Path != "/" || u.Query().Get("key") != key {
				t.Fatalf("status %d location %q, want 303 to /?key=<the key>", resp.StatusCode, loc)
			}
			if orig, _ := url.Parse(tc.path); orig.Query().Get("lang") != u.Query().Get("lang") {
				t.Errorf("query not kept: %q", loc)
			}
			for _, h := range []string{"Cache-Control", "Referrer-Policy", "Cross-Origin-Opener-Policy", "X-Frame-Options"} {
				if resp.Header.Get(h) == "" {
					t.Errorf("redirect without %s", h)
				}
			}
			if got := resp.Header.Get("Clear-Site-Data"); got != `"cache", "storage"` {
				t.Errorf("Clear-Site-Data %q: a squatter's cached scripts or service worker would survive", got)
			}
		})
	}

	v6 := hasIPv6(t)
	own := base
	dialSelf := func(wsURL, origin string) error {
		c, err := client.Dial(ctx5(t), wsURL, client.Auth{Origin: origin})
		if err == nil {
			c.Close()
		}
		return err
	}
	withKey := ts.url + "?key=" + key
	if err := dialSelf(withKey, own); err != nil {
		t.Errorf("own page with its key: %v", err)
	}
	refused := []struct{ name, url, origin string }{
		{"no key", ts.url, own},
		{"wrong key", ts.url + "?key=" + strings.Repeat("A", len(key)), own},
		{"empty key", ts.url + "?key=", own},
		{"localhost origin (may be another program's)", withKey, fmt.Sprintf("http://localhost:%d", ts.port)},
		{"other family's origin", withKey, fmt.Sprintf("http://[::1]:%d", ts.port)},
		{"https scheme", withKey, fmt.Sprintf("https://127.0.0.1:%d", ts.port)},
		{"other port", withKey, fmt.Sprintf("http://127.0.0.1:%d", ts.port+1)},
	}
	for _, r := range refused {
		err := dialSelf(r.url, r.origin)
		var he *client.HandshakeError
		if !errors.As(err, &he) || he.Status != 403 || he.Err.Code != bridge.CodeOriginNotAllowed {
			t.Errorf("%s: %v, want 403 ORIGIN_NOT_ALLOWED", r.name, err)
		}
	}
	if v6 {
		// Over ::1 the page's origin is http://[::1]:PORT, with the same key.
		v6URL := fmt.Sprintf("ws://[::1]:%d/ws?key=%s", ts.port, key)
		if err := dialSelf(v6URL, fmt.Sprintf("http://[::1]:%d", ts.port)); err != nil {
			t.Errorf("own page over ::1: %v", err)
		}
		if err := dialSelf(v6URL, own); err == nil {
			t.Error("the 127.0.0.1 origin was admitted on the ::1 address")
		}
	}

	// Without SelfOrigin there is no key and no own page.
	bare := start(t, func(c *bridge.Config) { c.Pages = pages })
	if bare.srv.PageKey() != "" {
		t.Error("page key without SelfOrigin")
	}
	if resp := navigation(t, fmt.Sprintf("http://127.0.0.1:%d/", bare.port), "none"); resp.StatusCode != 200 {
		t.Errorf("without SelfOrigin: status %d", resp.StatusCode)
	}
	if err := dialSelf(bare.url+"?key=", fmt.Sprintf("http://127.0.0.1:%d", bare.port)); err == nil {
		t.Error("own origin admitted without SelfOrigin")
	}

	// Each start draws its own key: one from another run is worthless.
	other := start(t, func(c *bridge.Config) { c.SelfOrigin = true; c.Pages = pages })
	if other.srv.PageKey() == key {
		t.Fatal("two servers drew the same key")
	}
	if err := dialSelf(other.url+"?key="+key, fmt.Sprintf("http://127.0.0.1:%d", other.port)); err == nil {
		t.Error("another run's key admitted")
	}
}

func hasIPv6(t *testing.T) bool {
	l, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Logf("no ::1 on this machine: %v", err)
		return false
	}
	l.Close()
	return true
}

// TestListenHoldsBothFamilies: the agent holds 127.0.0.1 and ::1 of its
// port, so no other program can serve http://localhost:PORT beside it;
// a port whose other address is taken is refused with ErrPortHeld.
func TestListenHoldsBothFamilies(t *testing.T) {
	if !hasIPv6(t) {
		lab.Require(t, "this machine has no ::1")
	}
	for _, listen := range []string{"127.0.0.1:0", "[::1]:0"} {
		ts := start(t, func(c *bridge.Config) { c.Listen = []string{listen} })
		var got []string
		for _, a := range ts.srv.Addrs() {
			got = append(got, a.String())
		}
		p := ts.port
		want := []string{fmt.Sprintf("127.0.0.1:%d", p), fmt.Sprintf("[::1]:%d", p)}
		if listen[0] == '[' {
			want[0], want[1] = want[1], want[0]
		}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("listen %s: addresses %v, want %v", listen, got, want)
		}
		for _, a := range want {
			if l, err := net.Listen("tcp", a); err == nil {
				l.Close()
				t.Errorf("listen %s: another listener got %s", listen, a)
			}
		}
	}

	// Another program on the other family first: the agent does not start.
	squat, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Fatal(err)
	}
	defer squat.Close()
	port := squat.Addr().(*net.TCPAddr).Port
	srv, err := bridge.New(bridge.Config{Listen: []string{fmt.Sprintf("127.0.0.1:%d", port)}, Backend: &fakeBackend{}})
	if err != nil {
		t.Fatal(err)
	}
	err = srv.Listen()
	if !errors.Is(err, bridge.ErrPortHeld) || !strings.Contains(err.Error(), fmt.Sprintf("[::1]:%d", port)) {
		t.Fatalf("listen beside a squatter: %v, want ErrPortHeld naming [::1]:%d", err, port)
	}
	// and it left nothing open
	if l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err != nil {
		t.Errorf("127.0.0.1:%d still held after the failed Listen: %v", port, err)
	} else {
		l.Close()
	}
}

// TestPagesCanonicalAddress: the pages live at the address the connection
// arrived on; other loopback names are redirected there (GET, HEAD) or
// refused.
func TestPagesCanonicalAddress(t *testing.T) {
	pages := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "page") })
	ts := start(t, func(c *bridge.Config) { c.SelfOrigin = true; c.Pages = pages })
	base := fmt.Sprintf("http://127.0.0.1:%d", ts.port)
	for _, tc := range []struct {
		method, host string
		status       int
		location     string
	}{
		{http.MethodGet, fmt.Sprintf("localhost:%d", ts.port), 308, base + "/demo/demo.js?x=1"},
		{http.MethodHead, fmt.Sprintf("LOCALHOST:%d", ts.port), 308, base + "/demo/demo.js?x=1"},
		{http.MethodGet, fmt.Sprintf("[::1]:%d", ts.port), 308, base + "/demo/demo.js?x=1"},
		{http.MethodPost, fmt.Sprintf("localhost:%d", ts.port), 403, ""},
		{http.MethodGet, fmt.Sprintf("127.0.0.1:%d", ts.port), 200, ""},
	} {
		req, _ := http.NewRequest(tc.method, base+"/demo/demo.js?x=1", strings.NewReader(""))
		req.Host = tc.host
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.status || resp.Header.Get("Location") != tc.location {
			t.Errorf("%s Host %s: %d %q, want %d %q", tc.method, tc.host, resp.StatusCode, resp.Header.Get("Location"), tc.status, tc.location)
		}
	}
}
