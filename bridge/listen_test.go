package bridge_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eid-agent/eid-agent/bridge"
	"github.com/eid-agent/eid-agent/bridge/client"
)

// TestSlowBodyBounded: a request whose body trickles in is cut off after
// PageReadTimeout, and while it hangs a legitimate client is served.
func TestSlowBodyBounded(t *testing.T) {
	ts := start(t, func(c *bridge.Config) {
		c.Limits.PageReadTimeout = 300 * time.Millisecond
		c.Pages = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			fmt.Fprint(w, "ok")
		})
	})
	addr := fmt.Sprintf("127.0.0.1:%d", ts.port)
	slow, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	fmt.Fprintf(slow, "POST /demo/nonce HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{", addr)
	resp, err := http.Get("http://" + addr + "/")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("legitimate client while a body trickles: %v", err)
	}
	resp.Body.Close()
	// The server ends the slow request; the bound here is only the
	// test's patience, not a measurement.
	slow.SetReadDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.ReadAll(slow); err != nil {
		t.Errorf("slow request not ended by the server: %v", err)
	}
}

// TestConnectionCap: past MaxHTTPConnections a new connection is closed at
// once (it holds no descriptor), and a place freed is usable again.
func TestConnectionCap(t *testing.T) {
	ts := start(t, func(c *bridge.Config) {
		c.Limits.MaxHTTPConnections = 3
		c.Pages = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") })
	})
	addr := fmt.Sprintf("127.0.0.1:%d", ts.port)
	var held []net.Conn
	for range 3 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		held = append(held, c)
	}
	// Each held connection is accepted (a request on it is answered).
	for _, c := range held {
		fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: %s\r\n\r\n", addr)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("held connection: %v", err)
		}
		resp.Body.Close()
	}
	extra, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer extra.Close()
	extra.SetReadDeadline(time.Now().Add(20 * time.Second))
	fmt.Fprintf(extra, "GET / HTTP/1.1\r\nHost: %s\r\n\r\n", addr)
	if b, err := io.ReadAll(extra); len(b) != 0 || isTimeout(err) {
		t.Fatalf("connection past the cap: read %q, %v; want it closed", b, err)
	}
	held[0].Close()
	// Once the server has seen the close, a new client gets in.
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no place freed: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

// syncBuffer is a log destination safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestRefusalsLogged: refused handshakes and pages are logged with their
// code and reason, and net/http's own errors go through slog too.
func TestRefusalsLogged(t *testing.T) {
	var buf syncBuffer
	ts := start(t, func(c *bridge.Config) {
		c.Log = slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
		c.Pages = http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("page handler broke") })
	})
	if _, err := client.Dial(ctx5(t), ts.url, client.Auth{Origin: "https://evil.example"}); err == nil {
		t.Fatal("evil origin admitted")
	}
	if _, err := client.Dial(ctx5(t), ts.url, client.Auth{Token: "wrong-token-wrong-token-wrong-token"}); err == nil {
		t.Fatal("wrong token admitted")
	}
	req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d/ws", ts.port), nil)
	req.Host = "evil.example"
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
	}
	if resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/", ts.port)); err == nil {
		resp.Body.Close()
	}
	type line struct {
		Level, Msg, Code, Reason, Origin, Err string
	}
	var lines []line
	deadline := time.Now().Add(10 * time.Second)
	for {
		lines = nil
		for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
			var v line
			if json.Unmarshal([]byte(l), &v) == nil {
				lines = append(lines, v)
			}
		}
		if len(lines) >= 4 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	want := []string{
		"request refused ORIGIN_NOT_ALLOWED https://evil.example",
		"request refused UNAUTHORIZED ",
		"request refused HOST_NOT_ALLOWED ",
		"http server  http: panic serving",
	}
	for i, w := range want {
		if i >= len(lines) {
			t.Fatalf("log has %d lines, want %d:\n%s", len(lines), len(want), buf.String())
		}
		l := lines[i]
		if got := l.Msg + " " + l.Code + " " + l.Origin + l.Err; !strings.HasPrefix(got, w) {
			t.Errorf("line %d: %q, want prefix %q", i, got, w)
		}
	}
	if strings.Contains(buf.String(), "wrong-token") {
		t.Error("the token was logged")
	}
}

// TestRefusalLogRate: a flood of refusals writes a few lines a second,
// then says how many it left out.
func TestRefusalLogRate(t *testing.T) {
	var buf syncBuffer
	now := time.Unix(1_000_000, 0)
	r := bridge.NewRefusalLog(slog.New(slog.NewTextHandler(&buf, nil)), func() time.Time { return now })
	for range 100 {
		r.Log("request refused")
	}
	if n := strings.Count(buf.String(), "\n"); n != 20 {
		t.Errorf("%d lines for a burst of 100, want the bucket's 20", n)
	}
	now = now.Add(time.Second)
	r.Log("request refused")
	if last := buf.String()[strings.LastIndex(strings.TrimSpace(buf.String()), "\n")+1:]; !strings.Contains(last, "suppressed=80") {
		t.Errorf("after a second: %q, want suppressed=80", last)
	}
}

func TestLogValue(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"plain", 10, "plain"},
		{"two\nlines", 20, `two\nlines`},
		{"esc\x1b[31m", 20, `esc\x1b[31m`},
		{"bidi\u202eevil", 20, `bidi\u202eevil`},
		{"\xff", 10, `\xff`},
		{"\ufffd", 10, "\ufffd"},
		{strings.Repeat("a", 20), 10, strings.Repeat("a", 10) + "..."},
		{strings.Repeat("é", 20), 5, "éé..."},              // cut between characters
		{"a\nb" + strings.Repeat("c", 30), 6, `a\nbcc...`}, // bounded after escaping
	} {
		if got := bridge.LogValue(tc.in, tc.n); got != tc.want {
			t.Errorf("logValue(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}
