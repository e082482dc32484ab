package bridge_test

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/eid-agent/eid-agent/internal/clock"

	"github.com/gorilla/websocket"

	"github.com/eid-agent/eid-agent/bridge"
	"github.com/eid-agent/eid-agent/internal/loopbackca"
)

// TestTLS: with Config.TLS the bridge serves wss:// only. A client trusting
// the per-install CA (ca.pem) gets in under each loopback name and speaks
// the protocol; one trusting only the system roots, or another install's
// CA, fails the TLS handshake; plain ws:// no longer works.
func TestTLS(t *testing.T) {
	dir := t.TempDir()
	if _, err := loopbackca.Init(dir, false, loopbackca.Options{}); err != nil {
		t.Fatal(err)
	}
	m, err := loopbackca.Load(dir, clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	ts := start(t, func(c *bridge.Config) { c.TLS = m.TLSConfig() })
	wss := fmt.Sprintf("wss://127.0.0.1:%d/ws", ts.port)

	dialer := func(roots *x509.CertPool) *websocket.Dialer {
		return &websocket.Dialer{
			HandshakeTimeout: 5 * time.Second,
			TLSClientConfig:  &tls.Config{RootCAs: roots, NextProtos: []string{"h2", "http/1.1"}, Time: clock.Now},
		}
	}
	for _, host := range []string{"127.0.0.1", "localhost"} {
		url := fmt.Sprintf("wss://%s:%d/ws", host, ts.port)
		ws, _, err := dialer(m.Pool()).Dial(url, http.Header{"Origin": {goodOrigin}})
		if err != nil {
			t.Fatalf("%s with the CA trusted: %v", url, err)
		}
		if err := ws.WriteJSON(map[string]any{"id": "1", "type": "hello", "params": map[string]int{"protocol": bridge.ProtocolVersion}}); err != nil {
			t.Fatal(err)
		}
		if id, e := readResp(t, ws); id != `"1"` || e != nil {
			t.Fatalf("hello over wss: id %s error %v", id, e)
		}
		cs := ws.UnderlyingConn().(*tls.Conn).ConnectionState()
		if cs.NegotiatedProtocol == "h2" || cs.Version < tls.VersionTLS12 {
			t.Errorf("negotiated %q TLS %x", cs.NegotiatedProtocol, cs.Version)
		}
		ws.Close()
	}

	other, err := loopbackca.Generate(loopbackca.Options{})
	if err != nil {
		t.Fatal(err)
	}
	otherPool := x509.NewCertPool()
	otherPool.AddCert(other.CA)
	for name, roots := range map[string]*x509.CertPool{"system roots": nil, "another install's CA": otherPool} {
		_, _, err := dialer(roots).Dial(wss, http.Header{"Origin": {goodOrigin}})
		var uae x509.UnknownAuthorityError
		if !errors.As(err, &uae) {
			t.Errorf("%s: dial error %v, want an unknown authority", name, err)
		}
	}

	// The Origin allow-list still applies over TLS.
	_, resp, err := dialer(m.Pool()).Dial(wss, http.Header{"Origin": {"https://evil.example"}})
	if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("foreign origin over wss: %v %v", err, resp)
	}

	// Plain ws:// on the TLS port is not served.
	if _, _, err := websocket.DefaultDialer.Dial(ts.url, http.Header{"Origin": {goodOrigin}}); err == nil {
		t.Error("plain ws:// accepted on the TLS listener")
	}
}

func TestTLSWithoutCertificate(t *testing.T) {
	_, err := bridge.New(bridge.Config{Backend: &fakeBackend{}, TLS: &tls.Config{}})
	if !errors.Is(err, bridge.ErrConfig) || !strings.Contains(err.Error(), "TLS") {
		t.Errorf("New: %v, want ErrConfig about TLS", err)
	}
}
