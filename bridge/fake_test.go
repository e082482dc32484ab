package bridge_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"math/big"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eid-agent/eid-agent/internal/clock"

	"github.com/eid-agent/eid-agent/bridge"
	"github.com/eid-agent/eid-agent/bridge/webeid"
)

// fakeBackend answers instantly unless told to block; it records what the
// bridge passed it.
type fakeBackend struct {
	key softKey

	mu         sync.Mutex
	authOrigin string
	readFields []string

	block     chan struct{} // Read waits on it when non-nil
	started   chan struct{} // Read signals here when it starts
	cancelled atomic.Int32  // Read saw its ctx end
	flood     bool          // Subscribe sends big events as fast as it can
	progress  bool          // Read reports progress
	subEnded  atomic.Int32
	// slowReaders makes ReadersNow decline, so readers takes the
	// goroutine path.
	slowReaders atomic.Bool
}

type softKey struct {
	*ecdsa.PrivateKey
	cert *x509.Certificate
}

func (k softKey) Certificate() *x509.Certificate { return k.cert }

func newSoftKey(t testing.TB) softKey {
	priv, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "Test"},
		NotBefore: clock.Now().Add(-time.Hour), NotAfter: clock.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, priv.Public(), priv)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return softKey{priv, cert}
}

func (f *fakeBackend) Readers(ctx context.Context) ([]bridge.ReaderInfo, error) {
	return []bridge.ReaderInfo{{Name: "Virtual Reader 0", Card: "belpic", AppletVersion: "1.8"}}, nil
}

// ReadersNow answers from memory, as the agent's monitor does, except when
// the test asks for the slow path.
func (f *fakeBackend) ReadersNow() ([]bridge.ReaderInfo, bool) {
	if f.slowReaders.Load() {
		return nil, false
	}
	rs, _ := f.Readers(context.Background())
	return rs, true
}

func (f *fakeBackend) Subscribe(ctx context.Context) (<-chan bridge.CardEvent, error) {
	ch := make(chan bridge.CardEvent)
	go func() {
		defer f.subEnded.Add(1)
		defer close(ch)
		ev := bridge.CardEvent{Type: bridge.EventCardInserted, Reader: "Virtual Reader 0", Card: bridge.CardBELPIC}
		if f.flood {
			ev.Reader = strings.Repeat("R", 4000)
		}
		for {
			select {
			case ch <- ev:
			case <-ctx.Done():
				return
			}
			if !f.flood {
				<-ctx.Done()
				return
			}
		}
	}()
	return ch, nil
}

func (f *fakeBackend) Read(ctx context.Context, req bridge.ReadRequest) (map[string]json.RawMessage, error) {
	f.mu.Lock()
	f.readFields = req.Fields
	f.mu.Unlock()
	if f.progress {
		bridge.ReportProgress(ctx, "reading", 50)
	}
	if f.block != nil {
		if f.started != nil {
			f.started <- struct{}{}
		}
		select {
		case <-f.block:
		case <-ctx.Done():
			f.cancelled.Add(1)
			return nil, ctx.Err()
		}
	}
	// Deliberately returns more than asked: the bridge must filter.
	return map[string]json.RawMessage{
		"identity": json.RawMessage(`{"name":"Specimen"}`),
		"address":  json.RawMessage(`{"streetAndNumber":"Rue 1"}`),
		"photo":    json.RawMessage(`"AAAA"`),
	}, nil
}

func (f *fakeBackend) Authenticate(ctx context.Context, req bridge.AuthenticateRequest) (*webeid.Token, error) {
	f.mu.Lock()
	f.authOrigin = req.Origin
	f.mu.Unlock()
	return webeid.Create(f.key, req.Origin, req.Nonce, webeid.Options{Version: "0.1.0"})
}

func (f *fakeBackend) SigningCertificate(ctx context.Context, req bridge.SigningCertificateRequest) (*bridge.SigningCertificateResult, error) {
	return nil, bridge.NewError(bridge.CodeNoKey, "")
}

func (f *fakeBackend) Sign(ctx context.Context, req bridge.SignRequest) (*bridge.SignResult, error) {
	return &bridge.SignResult{Signature: "AA==", SignatureAlgorithm: bridge.SignatureAlgorithm{CryptoAlgorithm: "ECC", HashFunction: req.HashFunction, PaddingScheme: "NONE"}}, nil
}

func (f *fakeBackend) ReadingProof(ctx context.Context, req bridge.ReadingProofRequest) (*bridge.ReadingProofResult, error) {
	return &bridge.ReadingProofResult{Proof: json.RawMessage(`{"supportType":"1","inputType":"1"}`),
		Reading: map[string]json.RawMessage{"identity": json.RawMessage(`{"surname":"Specimen"}`), "photo": json.RawMessage(`"AAAA"`)}}, nil
}
