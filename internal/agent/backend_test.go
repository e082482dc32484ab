package agent

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eid-agent/eid-agent/bridge"
	"github.com/eid-agent/eid-agent/bridge/client"
	"github.com/eid-agent/eid-agent/bridge/webeid"
	"github.com/eid-agent/eid-agent/card"
	"github.com/eid-agent/eid-agent/card/eidfile"
	"github.com/eid-agent/eid-agent/internal/lab"
	"github.com/eid-agent/eid-agent/internal/virtual"
	"github.com/eid-agent/eid-agent/internal/vpcd"
)

const origin = "https://admission.hospital.example"

// serve starts the bridge with this package's Backend on a loopback port.
func serve(t *testing.T, b *Backend, consent bridge.Consent) string {
	t.Helper()
	srv, err := bridge.New(bridge.Config{
		Listen:         []string{"127.0.0.1:0"},
		AllowedOrigins: []string{origin},
		Backend:        b,
		Consent:        consent,
		Version:        "test",
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	go srv.Serve()
	t.Cleanup(func() { srv.Close() })
	return "ws://" + srv.Addrs()[0].String() + "/ws"
}

func dial(t *testing.T, url string) *client.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, url, client.Auth{Origin: origin})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := c.Hello(ctx); err != nil {
		t.Fatal(err)
	}
	return c
}

func nonce(t *testing.T) string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

// TestBridgeEndToEnd: a websocket client, through the bridge and this
// Backend, reads, authenticates and signs with a virtual card in pcscd, and
// receives the card's events.
func TestBridgeEndToEnd(t *testing.T) {
	slot := lab.Slots(t)[0]
	var prompts atomic.Int32
	b := &Backend{Prompt: func(ctx context.Context, req card.PINRequest) ([]byte, error) {
		prompts.Add(1)
		if !strings.Contains(req.Purpose, origin) {
			return nil, fmt.Errorf("the dialog does not name the origin: %q", req.Purpose)
		}
		return []byte("1234"), nil
	}, QueueTimeout: 5 * time.Second}
	consent := bridge.NewMemoryConsent(map[string]bridge.Grant{
		origin: {Fields: []string{"identity", "address", "integrity", "card"}, Authenticate: true, Sign: true},
	})
	url := serve(t, b, consent)
	c := dial(t, url)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	if err := c.Call(ctx, "subscribe", map[string]any{}, nil); err != nil {
		t.Fatal(err)
	}
	for _, preset := range []string{"citizen-1.8", "citizen-1.7"} {
		t.Run(preset, func(t *testing.T) {
			p, err := virtual.Preset(preset)
			if err != nil {
				t.Fatal(err)
			}
			in, err := vpcd.Insert(context.Background(), slot.Addr, virtual.New(p))
			if err != nil {
				t.Fatal(err)
			}
			defer in.Remove()
			waitEvent(t, c, "card-inserted", slot.Reader)

			var read struct{ Reading map[string]json.RawMessage }
			if err := c.Call(ctx, "read", map[string]any{"reader": slot.Reader, "fields": []string{"identity", "address", "integrity"}}, &read); err != nil {
				t.Fatal(err)
			}
			var id eidfile.Identity
			if err := json.Unmarshal(read.Reading["identity"], &id); err != nil || id.Surname != "Specimen" {
				t.Fatalf("identity %s: %v", read.Reading["identity"], err)
			}
			var in2 eidfile.Integrity
			if err := json.Unmarshal(read.Reading["integrity"], &in2); err != nil || in2.Identity != eidfile.Valid || in2.Address != eidfile.Valid {
				t.Errorf("integrity %s: %v", read.Reading["integrity"], err)
			}
			if _, ok := read.Reading["photo"]; ok || len(read.Reading) != 3 {
				t.Errorf("members returned: %d (photo not asked)", len(read.Reading))
			}
			// The photo was not granted to this origin.
			err = c.Call(ctx, "read", map[string]any{"reader": slot.Reader, "fields": []string{"photo"}}, &read)
			var pe *bridge.Error
			if !errors.As(err, &pe) || pe.Code != bridge.CodeConsentDenied {
				t.Errorf("ungranted photo: %v", err)
			}

			n := nonce(t)
			var tok webeid.Token
			if err := c.Call(ctx, "authenticate", map[string]any{"reader": slot.Reader, "nonce": n}, &tok); err != nil {
				t.Fatal(err)
			}
			if _, err := webeid.Verify(&tok, origin, n); err != nil {
				t.Errorf("token does not verify for the origin: %v", err)
			}
			if _, err := webeid.Verify(&tok, "https://evil.example", n); err == nil {
				t.Error("token verifies for another origin")
			}
			var sc bridge.SigningCertificateResult
			if err := c.Call(ctx, "signing-certificate", map[string]any{"reader": slot.Reader}, &sc); err != nil {
				t.Fatal(err)
			}
			der, _ := base64.StdEncoding.DecodeString(sc.Certificate)
			cert, err := x509.ParseCertificate(der)
			if err != nil {
				t.Fatal(err)
			}
			digest := sha256.Sum256([]byte("consent form 7"))
			var sr bridge.SignResult
			if err := c.Call(ctx, "sign", map[string]any{"reader": slot.Reader, "certificate": sc.Certificate,
				"hash": base64.StdEncoding.EncodeToString(digest[:]), "hashFunction": "SHA-256"}, &sr); err != nil {
				t.Fatal(err)
			}
			sig, _ := base64.StdEncoding.DecodeString(sr.Signature)
			switch pub := cert.PublicKey.(type) {
			case *ecdsa.PublicKey:
				half := len(sig) / 2
				if !ecdsa.Verify(pub, digest[:], new(big.Int).SetBytes(sig[:half]), new(big.Int).SetBytes(sig[half:])) {
					t.Error("ECDSA signature (r||s) does not verify")
				}
			case *rsa.PublicKey:
				if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig); err != nil {
					t.Errorf("RSA signature: %v", err)
				}
			}
			in.Remove()
			waitEvent(t, c, "card-removed", slot.Reader)
		})
	}
	if prompts.Load() == 0 {
		t.Error("no PIN was asked")
	}
}

func waitEvent(t *testing.T, c *client.Client, typ, reader string) {
	t.Helper()
	deadline := time.After(3 * time.Second)
	for {
		select {
		case e, ok := <-c.Events():
			if !ok {
				t.Fatal("connection closed")
			}
			var data bridge.CardEvent
			json.Unmarshal(e.Data, &data)
			if e.Event == typ && data.Reader == reader {
				return
			}
		case <-deadline:
			t.Fatalf("no %s event for %q", typ, reader)
		}
	}
}

// TestBusyReader: a second operation on a busy reader waits and gives
// BUSY_TIMEOUT after the queue timeout, without touching the card.
func TestBusyReader(t *testing.T) {
	var q readerQueue
	release, err := q.acquire(context.Background(), "r", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = q.acquire(context.Background(), "r", 100*time.Millisecond)
	var pe *bridge.Error
	if !errors.As(err, &pe) || pe.Code != bridge.CodeBusyTimeout || time.Since(start) < 100*time.Millisecond {
		t.Fatalf("busy: %v after %v", err, time.Since(start))
	}
	if r2, err := q.acquire(context.Background(), "other", time.Second); err != nil {
		t.Fatalf("another reader is not blocked: %v", err)
	} else {
		r2()
	}
	release()
	if r3, err := q.acquire(context.Background(), "r", time.Second); err != nil {
		t.Fatalf("after release: %v", err)
	} else {
		r3()
	}
}

// TestQueuedProgress: while one client's authentication holds the reader
// (its PIN dialog is open), another client's read waits, is told so with a
// "queued" progress event, and then gets its answer; nothing interleaves.
func TestQueuedProgress(t *testing.T) {
	slot := lab.Slots(t)[0]
	dialogOpen := make(chan struct{})
	b := &Backend{Prompt: func(ctx context.Context, req card.PINRequest) ([]byte, error) {
		close(dialogOpen)
		time.Sleep(500 * time.Millisecond)
		return []byte("1234"), nil
	}, QueueTimeout: 5 * time.Second}
	consent := bridge.NewMemoryConsent(map[string]bridge.Grant{origin: {Fields: []string{"identity"}, Authenticate: true}})
	url := serve(t, b, consent)
	a, c := dial(t, url), dial(t, url)
	p, err := virtual.Preset("citizen-1.7")
	if err != nil {
		t.Fatal(err)
	}
	in, err := vpcd.Insert(context.Background(), slot.Addr, virtual.New(p))
	if err != nil {
		t.Fatal(err)
	}
	defer in.Remove()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		var rs struct{ Readers []bridge.ReaderInfo }
		if err := c.Call(ctx, "readers", nil, &rs); err != nil {
			t.Fatal(err)
		}
		if slices.ContainsFunc(rs.Readers, func(r bridge.ReaderInfo) bool { return r.Name == slot.Reader && r.Card == bridge.CardBELPIC }) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	authDone := make(chan error, 1)
	go func() {
		var tok webeid.Token
		authDone <- a.Call(ctx, "authenticate", map[string]any{"reader": slot.Reader, "nonce": nonce(t)}, &tok)
	}()
	<-dialogOpen
	var read struct{ Reading map[string]json.RawMessage }
	if err := c.Call(ctx, "read", map[string]any{"reader": slot.Reader, "fields": []string{"identity"}}, &read); err != nil {
		t.Fatal(err)
	}
	if err := <-authDone; err != nil {
		t.Fatalf("authentication: %v", err)
	}
	queued := false
	for len(c.Events()) > 0 {
		e := <-c.Events()
		queued = queued || (e.Event == "progress" && strings.Contains(string(e.Data), `"queued"`))
	}
	if !queued {
		t.Error("the waiting client was not told it was queued")
	}
}
