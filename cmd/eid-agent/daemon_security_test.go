package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/eid-agent/eid-agent/bridge"
	"github.com/eid-agent/eid-agent/bridge/client"
	"github.com/eid-agent/eid-agent/internal/agent"
	"github.com/eid-agent/eid-agent/internal/installer"
	"github.com/eid-agent/eid-agent/internal/lab"
)

// The attacks of issue #13, each against the real `eid-agent run`.

func portOf(t *testing.T, wsURL string) int {
	t.Helper()
	u, err := url.Parse(wsURL)
	if err != nil {
		t.Fatal(err)
	}
	_, p, _ := net.SplitHostPort(u.Host)
	var n int
	fmt.Sscan(p, &n)
	return n
}

var noRedirects = &http.Client{Timeout: 20 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// browse sends what a browser sends for a top-level navigation; site is
// Sec-Fetch-Site ("none": typed in the address bar; "same-origin": a
// script of the page's own origin opened it).
func browse(t *testing.T, rawURL, site string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, rawURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Sec-Fetch-Mode", "navigate")
	req.Header.Set("Sec-Fetch-Dest", "document")
	req.Header.Set("Sec-Fetch-Site", site)
	resp, err := noRedirects.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// pageKey opens the agent's page as the user would and returns the key
// its address carries.
func pageKey(t *testing.T, base string) string {
	t.Helper()
	resp := browse(t, base+"/", "none")
	loc, err := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusSeeOther || err != nil || loc.Query().Get("key") == "" {
		t.Fatalf("opening %s/: %d %q, want a redirect with the page key", base, resp.StatusCode, resp.Header.Get("Location"))
	}
	return loc.Query().Get("key")
}

// wsStatus dials and returns the HTTP status of the upgrade (101 on
// success) and the refusal code.
func wsStatus(t *testing.T, wsURL, origin string) (int, bridge.Code) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, wsURL, client.Auth{Origin: origin})
	if err == nil {
		c.Close()
		return 101, ""
	}
	var he *client.HandshakeError
	if errors.As(err, &he) {
		code := bridge.Code("")
		if he.Err != nil {
			code = he.Err.Code
		}
		return he.Status, code
	}
	t.Fatalf("dial %s: %v", wsURL, err)
	return 0, ""
}

// TestSecuritySelfPage (issue #13 item 1, HIGH): no other program, of
// another user or this one, can stand in for the agent's own page.
//   - Another user holding [::1]:PORT: the agent does not start beside it
//     (before, it started on 127.0.0.1 and the other user's page at
//     http://localhost:PORT was "the agent's own").
//   - The agent running holds both addresses: the other user can bind
//     neither.
//   - A page another program served earlier at the agent's exact origin
//     (it is still open in the browser) knows no page key and gets none:
//     refused. localhost and the other family's origin are never the
//     agent's own. A key dies with the agent's run.
func TestSecuritySelfPage(t *testing.T) {
	port := freePort(t)
	squat := asOtherUser(t, "listen", fmt.Sprintf("[::1]:%d", port))
	if got := squat.line(); got != "listening" {
		t.Fatalf("the other user could not listen on [::1]:%d: %s", port, got)
	}
	home := t.TempDir()
	r := execAgent(t, isolatedEnv(home), "", 60*time.Second, "run", "--simulate", "--listen", fmt.Sprintf("127.0.0.1:%d", port))
	if r.code == 0 || !strings.Contains(r.stderr, fmt.Sprintf("[::1]:%d is held by another user's program", port)) {
		t.Fatalf("agent beside another user's [::1]:%d: exit %d\n%s%s", port, r.code, r.stdout, r.stderr)
	}
	squat.stop()

	d := startDaemonIn(t, home, "", "--simulate")
	port = portOf(t, d.url)
	for _, a := range []string{fmt.Sprintf("[::1]:%d", port), fmt.Sprintf("127.0.0.1:%d", port)} {
		if got := otherUserSays(t, "listen", a); !strings.HasPrefix(got, "error:") || !strings.Contains(got, "address already in use") {
			t.Errorf("another user binding %s beside the running agent: %s", a, got)
		}
	}
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	wsURL := fmt.Sprintf("ws://127.0.0.1:%d/ws", port)
	own := base

	// http://localhost:PORT/ is the address's page.
	if resp := browse(t, fmt.Sprintf("http://localhost:%d/", port), "none"); resp.StatusCode != http.StatusPermanentRedirect ||
		!(strings.HasPrefix(resp.Header.Get("Location"), base+"/") || strings.HasPrefix(resp.Header.Get("Location"), fmt.Sprintf("http://[::1]:%d/", port))) {
		t.Errorf("localhost page: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	// What a script of a stale page of this origin can do gets no key.
	for _, site := range []string{"same-origin"} {
		if resp := browse(t, base+"/", site); resp.StatusCode != 200 || resp.Header.Get("Location") != "" {
			t.Errorf("navigation by the origin itself (%s): %d %q", site, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	resp, err := http.Get(base + "/") // fetch(): no navigation metadata
	if err != nil || resp.StatusCode != 200 || resp.Request.URL.Query().Get("key") != "" {
		t.Errorf("fetch of /: %v", err)
	} else {
		resp.Body.Close()
	}

	key := pageKey(t, base)
	for _, tc := range []struct {
		name, url, origin string
		status            int
	}{
		{"the agent's page with its key", wsURL + "?key=" + key, own, 101},
		{"the same origin without the key (a page another program served here)", wsURL, own, 403},
		{"a guessed key", wsURL + "?key=" + strings.Repeat("x", len(key)), own, 403},
		{"the localhost origin, even with the key", wsURL + "?key=" + key, fmt.Sprintf("http://localhost:%d", port), 403},
		{"the other family's origin on this address", wsURL + "?key=" + key, fmt.Sprintf("http://[::1]:%d", port), 403},
	} {
		if got, code := wsStatus(t, tc.url, tc.origin); got != tc.status {
			t.Errorf("%s: HTTP %d %s, want %d", tc.name, got, code, tc.status)
		}
	}
	// The page, admitted, uses the agent (pre-approved in simulate mode).
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, wsURL+"?key="+key, client.Auth{Origin: own})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Hello(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Call(ctx, "read", map[string]any{"fields": []string{"card"}}, nil); err != nil {
		t.Errorf("own page read: %v", err)
	}
	c.Close()
	if !strings.Contains(d.Logs(), `"msg":"request refused","code":"ORIGIN_NOT_ALLOWED"`) {
		t.Errorf("refused handshakes not logged:\n%s", d.Logs())
	}

	// A restart draws a new key: the old one is worthless.
	if code := d.stop(); code != 0 {
		t.Fatalf("stop: %d", code)
	}
	d2 := startDaemonIn(t, home, "", "--simulate", "--listen", fmt.Sprintf("127.0.0.1:%d", port))
	_ = d2
	if got, _ := wsStatus(t, wsURL+"?key="+key, own); got != 403 {
		t.Errorf("the previous run's key: HTTP %d, want 403", got)
	}
}

// TestSecurityOtherUserHTTP (item 4): another OS user gets nothing from any
// path (pages, /demo/*, /ws): its connection is recognised at accept and
// answered 403 OTHER_USER whatever it asks, and nothing else. A flood of
// slow connections from that user holds none of the agent's places, and
// the agent's user is served throughout.
func TestSecurityOtherUserHTTP(t *testing.T) {
	const app = "https://counter.example"
	d := startDaemon(t, "", "--simulate", "--allow-origin", app)
	port := portOf(t, d.url)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	for _, tc := range [][]string{
		{"get", base + "/"},
		{"get", base + "/eid-agent.js"},
		{"post", base + "/demo/nonce"},
		{"dial", d.url, app},
	} {
		if got := otherUserSays(t, tc[0], tc[1:]...); got != "status 403 OTHER_USER" {
			t.Errorf("another user's %s %s: %q, want 403 OTHER_USER", tc[0], tc[1], got)
		}
	}
	flood := asOtherUser(t, "flood", fmt.Sprintf("127.0.0.1:%d", port), "1000")
	resp, err := http.Get(base + "/eid-agent.js")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("the agent's user during the flood: %v", err)
	}
	resp.Body.Close()
	var closed, refused, other, n int
	if got := flood.line(); fmtSscanf(got, "closed %d refused %d other %d of %d", &closed, &refused, &other, &n) != nil || other != 0 || closed+refused != 1000 {
		t.Errorf("flood: %s", got)
	} else {
		t.Logf("flood: %s", got)
	}
	c := d.dial(app)
	if err := c.Call(context.Background(), "readers", nil, nil); err != nil {
		t.Errorf("after the flood: %v", err)
	}
	if !strings.Contains(d.Logs(), `"msg":"connection refused","reason":"another OS user"`) {
		t.Errorf("refused connections not logged:\n%.2000s", d.Logs())
	}
}

// TestSecurityCallers (items 5 and 8): one origin cannot take every
// websocket; the desktop token keeps its room; members are matched
// exactly and once; a caller's reader name is bounded before logs and
// audit.
func TestSecurityCallers(t *testing.T) {
	origins := []string{"https://a.example", "https://b.example", "https://c.example", "https://d.example", "https://e.example"}
	args := []string{"--simulate"}
	for _, o := range origins {
		args = append(args, "--allow-origin", o, "--grant", o+"=card")
	}
	d := startDaemon(t, "", args...)
	var held []*websocket.Conn
	defer func() {
		for _, ws := range held {
			ws.Close()
		}
	}()
	open := func(origin string) (int, string) {
		ws, resp, err := websocket.DefaultDialer.Dial(d.url, http.Header{"Origin": {origin}})
		if err == nil {
			held = append(held, ws)
			return 101, ""
		}
		if resp == nil {
			t.Fatalf("dial: %v", err)
		}
		var body struct{ Error *bridge.Error }
		json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if body.Error == nil {
			return resp.StatusCode, ""
		}
		return resp.StatusCode, body.Error.Detail
	}
	for i := range 16 {
		if st, why := open(origins[0]); st != 101 {
			t.Fatalf("connection %d of one origin: %d %s", i+1, st, why)
		}
	}
	if st, why := open(origins[0]); st != 503 || !strings.Contains(why, "this caller") {
		t.Errorf("17th connection of one origin: %d %q, want 503", st, why)
	}
	// Others still get in, until the web's share (64 - 4) is used.
	for _, o := range origins[1:3] {
		for range 16 {
			if st, why := open(o); st != 101 {
				t.Fatalf("%s: %d %s", o, st, why)
			}
		}
	}
	for range 12 {
		if st, why := open(origins[3]); st != 101 {
			t.Fatalf("%s: %d %s", origins[3], st, why)
		}
	}
	if st, why := open(origins[4]); st != 503 || !strings.Contains(why, "desktop applications") {
		t.Errorf("past the web's share: %d %q", st, why)
	}
	// The desktop token still gets in: `eid-agent status`.
	if r := d.cli("status", "--url", d.url, "--state-dir", d.state); r.code != 0 {
		t.Errorf("status with every web slot taken: %+v", r)
	}
	for _, ws := range held {
		ws.Close()
	}
	held = nil

	// The agent frees a slot when it has seen the close, which on a busy
	// machine may come after this dial: wait for a slot, not for a time.
	var ws *websocket.Conn
	var err error
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		var resp *http.Response
		ws, resp, err = websocket.DefaultDialer.Dial(d.url, http.Header{"Origin": {origins[0]}})
		if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	longReader := strings.Repeat("R", 7000) + "\nforged log line"
	for i, tc := range []struct {
		msg  string
		code bridge.Code
	}{
		{`{"id":1,"type":"hello","params":{"protocol":1}}`, ""},
		{`{"id":2,"TYPE":"readers"}`, bridge.CodeBadRequest},
		{`{"id":3,"type":"read","params":{"FIELDS":["card"]}}`, bridge.CodeBadRequest},
		{`{"id":4,"type":"read","params":{"fields":["identity"],"fields":["card"]}}`, bridge.CodeBadRequest},
		{fmt.Sprintf(`{"id":5,"type":"read","params":{"fields":["card"],"reader":%q}}`, longReader), bridge.CodeBadRequest},
		{`{"id":6,"type":"read","params":{"fields":["card"],"reader":"x\u001b[2Jy"}}`, bridge.CodeBadRequest},
		{`{"id":7,"type":"read","params":{"fields":["card"]}}`, ""},
		// A well-formed name that is no reader: refused, and the text the
		// caller chose (here a national number and a name, the red team's
		// plant) is neither logged nor audited.
		{`{"id":8,"type":"read","params":{"fields":["card"],"reader":"90122468782 Planted"}}`, bridge.CodeReaderNotFound},
	} {
		if err := ws.WriteMessage(websocket.TextMessage, []byte(tc.msg)); err != nil {
			t.Fatal(err)
		}
		ws.SetReadDeadline(time.Now().Add(30 * time.Second))
		// A read may push progress events before its answer (more likely on
		// a busy machine): the answer is the message with no "event".
		var r struct {
			ID    int
			Event string
			Error *bridge.Error
		}
		for {
			r.ID, r.Event, r.Error = 0, "", nil
			if err := ws.ReadJSON(&r); err != nil {
				t.Fatal(err)
			}
			if r.Event == "" {
				break
			}
		}
		if want := i + 1; r.ID != want {
			t.Errorf("%.60s: answer for id %d", tc.msg, r.ID)
		}
		var code bridge.Code
		if r.Error != nil {
			code = r.Error.Code
		}
		if code != tc.code {
			t.Errorf("%.60s: %v, want %q", tc.msg, r.Error, tc.code)
		}
	}
	raw, _ := os.ReadFile(filepath.Join(d.state, "audit.jsonl"))
	if strings.Contains(d.Logs(), "RRRRRRRRRRRRRRRR") || strings.Contains(string(raw), "RRRRRRRRRRRRRRRR") || strings.Contains(d.Logs(), "forged log line") ||
		strings.Contains(d.Logs(), "Planted") || strings.Contains(string(raw), "Planted") {
		t.Error("the caller's reader string reached the logs or the audit journal")
	}
}

// TestSecurityStateFiles (item 7): the agent does not adopt a desktop token
// that is a symbolic link or another user's file, and makes its state
// folder private.
func TestSecurityStateFiles(t *testing.T) {
	home := t.TempDir()
	state := filepath.Join(home, "state", "eid-agent")
	if err := os.MkdirAll(state, 0o755); err != nil {
		t.Fatal(err)
	}
	token := filepath.Join(state, agent.TokenFile)
	planted := filepath.Join(home, "planted-token")
	os.WriteFile(planted, []byte("chosen-by-someone-else-chosen-by-someone-else\n"), 0o644)
	if err := os.Symlink(planted, token); err != nil {
		t.Fatal(err)
	}
	r := execAgent(t, isolatedEnv(home), "", 60*time.Second, "run", "--simulate", "--listen", "127.0.0.1:0")
	if r.code == 0 || !strings.Contains(r.stderr, "symbolic link") {
		t.Errorf("token as a symbolic link: exit %d %s", r.code, r.stderr)
	}
	os.Remove(token)
	os.WriteFile(token, []byte("chosen-by-someone-else-chosen-by-someone-else\n"), 0o600)
	nobodyOwns(t, token)
	r = execAgent(t, isolatedEnv(home), "", 60*time.Second, "run", "--simulate", "--listen", "127.0.0.1:0")
	if r.code == 0 || !strings.Contains(r.stderr, "belongs to uid") {
		t.Errorf("another user's token: exit %d %s", r.code, r.stderr)
	}
	os.Remove(token)
	d := startDaemonIn(t, home, "", "--simulate")
	if fi, err := os.Stat(state); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("state folder %v %v, want 0700", fi.Mode().Perm(), err)
	}
	if fi, err := os.Lstat(token); err != nil || fi.Mode().Perm() != 0o600 || !fi.Mode().IsRegular() {
		t.Errorf("token %v %v, want a 0600 file", fi.Mode(), err)
	}
	d.stop()
}

func nobodyOwns(t *testing.T, path string) {
	t.Helper()
	if os.Getuid() != 0 {
		lab.Require(t, "making a file of another user needs root (CI runs the tests as root)")
	}
	u, err := user.Lookup("nobody")
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	if err := os.Chown(path, uid, -1); err != nil {
		t.Fatal(err)
	}
}

// TestSecurityOrigins (item 8): `config check` and `run` refuse the same
// origins, those a browser's Origin can never equal.
func TestSecurityOrigins(t *testing.T) {
	for _, o := range []string{"https://app.example:443", "https://app.example:0443", "https://app.example.", "https://2130706433"} {
		env, home := doctorEnv(t)
		cfg := filepath.Join(home, "config.toml")
		os.WriteFile(cfg, []byte(fmt.Sprintf("allowed_origins = [%q]\n", o)), 0o600)
		if r := runEnv(t, env, "config", "check", cfg); r.code == 0 || !strings.Contains(r.stdout+r.stderr, "allowed_origins: invalid origin") {
			t.Errorf("config check %s: exit %d %s", o, r.code, r.stdout+r.stderr)
		}
		if r := runEnv(t, env, "run", "--simulate", "--listen", "127.0.0.1:0", "--allow-origin", o); r.code != exitUsage {
			t.Errorf("run --allow-origin %s: exit %d %s", o, r.code, r.stderr)
		}
	}
}

// TestDoctorForeignListener (item 9): a program of another user holding
// the agent's port (here the other address family of it, before the
// agent starts) is named by `eid-agent doctor`, even though it answers
// HTTP.
func TestDoctorForeignListener(t *testing.T) {
	env, home := doctorEnv(t)
	port := freePort(t)
	cfgDir := filepath.Join(home, ".config", "eid-agent")
	os.MkdirAll(cfgDir, 0o700)
	os.WriteFile(filepath.Join(cfgDir, "config.toml"), []byte(fmt.Sprintf("listen = [\"127.0.0.1:%d\"]\n", port)), 0o600)
	squat := asOtherUser(t, "listen", fmt.Sprintf("[::1]:%d", port))
	if got := squat.line(); got != "listening" {
		t.Fatal(got)
	}
	r := runEnv(t, env, "doctor", "--json")
	var rep installer.DoctorReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("%v: %s %s", err, r.stdout, r.stderr)
	}
	var port1 installer.Result
	for _, c := range rep.Checks {
		if c.Name == "port" {
			port1 = c
		}
	}
	if port1.Status != installer.Fail || !strings.Contains(port1.Detail, "another user (nobody") || !strings.Contains(port1.Detail, fmt.Sprintf("[::1]:%d", port)) || port1.Fix == "" {
		t.Errorf("port check with another user's listener: %+v", port1)
	}
	if r.code != 1 {
		t.Errorf("doctor exit %d", r.code)
	}
}

func fmtSscanf(s, format string, a ...any) error {
	_, err := fmt.Sscanf(s, format, a...)
	return err
}
