package main

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eid-agent/eid-agent/internal/clock"

	"github.com/gorilla/websocket"
)

// TestDaemonTLS: after `eid-agent tls init`, `tls.listen` serves wss://
// with the per-install certificate beside ws://; a client trusting the
// install's ca.pem gets in, one trusting only the system roots does not.
func TestDaemonTLS(t *testing.T) {
	home := t.TempDir()
	pre := &daemon{t: t, env: isolatedEnv(home)}
	if r := pre.cli("tls", "init"); r.code != 0 {
		t.Fatalf("tls init: %+v", r)
	}
	const app = "https://counter.example"
	d := startDaemonIn(t, home, "[tls]\nlisten = [\"127.0.0.1:0\"]\n", "--simulate", "--allow-origin", app)
	var wss string
	for wss == "" {
		select {
		case line := <-d.lines:
			if i := strings.Index(line, "wss://"); i >= 0 {
				wss = strings.TrimSpace(line[i:])
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no wss line; logs:\n%s", d.Logs())
		}
	}
	ca, err := os.ReadFile(filepath.Join(home, "config", "eid-agent", "tls", "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	dialer := websocket.Dialer{TLSClientConfig: &tls.Config{RootCAs: pool, Time: clock.Now}, HandshakeTimeout: 5 * time.Second}
	ws, _, err := dialer.Dial(wss, http.Header{"Origin": {app}})
	if err != nil {
		t.Fatalf("wss with the install's CA: %v", err)
	}
	ws.WriteMessage(websocket.TextMessage, []byte(`{"id":1,"type":"hello","params":{"protocol":1}}`))
	ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, b, err := ws.ReadMessage(); err != nil || !strings.Contains(string(b), `"server":"eid-agent"`) {
		t.Errorf("hello over wss: %s %v", b, err)
	}
	ws.Close()
	plain := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	if _, _, err := plain.Dial(wss, http.Header{"Origin": {app}}); err == nil {
		t.Error("a client without the install's CA got in")
	}
	if code := d.stop(); code != 0 {
		t.Errorf("exit %d", code)
	}
}
