package agent

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"time"

	"github.com/eid-agent/eid-agent/bridge"
	"github.com/eid-agent/eid-agent/bridge/webeid"
	"github.com/eid-agent/eid-agent/card"
)

// Backend implements bridge.Backend over PC/SC with the APDU signing path.
type Backend struct {
	// Prompt asks the PIN in the agent's own dialog (never the page).
	Prompt card.PINPrompt
	// Trust judges the RRN chain of reads; nil means card.SystemTrustStore.
	Trust *card.TrustStore
	// QueueTimeout bounds the wait for a busy reader (default 30 s).
	QueueTimeout time.Duration
	// Version is the agent version put in tokens.
	Version string
	// Origin options for authentication (http loopback in development).
	Origin webeid.OriginOptions

	queue readerQueue
}

var _ bridge.Backend = (*Backend)(nil)

func (b *Backend) queueTimeout() time.Duration {
	if b.QueueTimeout > 0 {
		return b.QueueTimeout
	}
	return 30 * time.Second
}

// Readers lists the readers; no card is touched except to ask a BELPIC
// card its applet version (GET CARD DATA), which needs no PIN.
func (b *Backend) Readers(ctx context.Context) ([]bridge.ReaderInfo, error) {
	pc, err := card.NewContext()
	if err != nil {
		return nil, err
	}
	defer pc.Release()
	rs, err := pc.Readers()
	if errors.Is(err, card.ErrNoReader) {
		return []bridge.ReaderInfo{}, nil
	}
	if err != nil {
		return nil, err
	}
	out := make([]bridge.ReaderInfo, len(rs))
	for i, r := range rs {
		out[i] = bridge.ReaderInfo{Name: r.Name, Card: r.Kind, AppletVersion: r.AppletVersion}
	}
	return out, nil
}

// Subscribe streams card.Watch's reader and card events.
func (b *Backend) Subscribe(ctx context.Context) (<-chan bridge.CardEvent, error) {
	raw := make(chan card.Event, 16)
	out := make(chan bridge.CardEvent, 16)
	go card.Watch(ctx, raw, time.Second)
	go func() {
		defer close(out)
		for {
			select {
			case <-ctx.Done():
				return
			case e := <-raw:
				ev := bridge.CardEvent{Type: e.Type, Reader: e.Reader}
				switch e.Type {
				case card.EventCardInserted:
					ev.Card = card.KindUnknown
					if card.IsBELPICATR(e.ATR) {
						ev.Card = card.KindBELPIC
					}
				case card.EventReaderAdded, card.EventReaderRemoved, card.EventCardRemoved:
				default:
					continue // service up/down: not a card event of the protocol
				}
				select {
				case out <- ev:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out, nil
}

// withCard runs f with the card in reader (or the only one holding a
// card), holding the reader for the whole operation.
func (b *Backend) withCard(ctx context.Context, reader string, f func(c *card.Card) error) error {
	pc, err := card.NewContext()
	if err != nil {
		return err
	}
	defer pc.Release()
	name, err := pc.ChooseReader(reader)
	if err != nil {
		return err
	}
	release, err := b.queue.acquire(ctx, name, b.queueTimeout())
	if err != nil {
		return err
	}
	defer release()
	c, err := pc.Connect(name)
	if err != nil {
		return err
	}
	defer c.Close()
	return f(c)
}

// readParts maps the requested Reading members to the files to read.
func readParts(fields []string) card.Parts {
	p := card.PartIdentity
	for _, f := range fields {
		switch f {
		case "address":
			p |= card.PartAddress
		case "photo", "photoSha256":
			p |= card.PartPhoto
		case "certificates":
			p |= card.PartCertificates
		case "integrity":
			p |= card.PartAddress | card.PartPhoto | card.PartChipAuthentication
		}
	}
	return p
}

// Read reads the card and returns only the members asked for.
func (b *Backend) Read(ctx context.Context, req bridge.ReadRequest) (map[string]json.RawMessage, error) {
	var r *card.Reading
	err := b.withCard(ctx, req.Reader, func(c *card.Card) error {
		trust := b.Trust
		if trust == nil {
			trust, _ = card.SystemTrustStore()
		}
		var err error
		bridge.ReportProgress(ctx, "reading", 0)
		r, err = c.Read(card.ReadOptions{Parts: readParts(req.Fields), Trust: trust})
		if err == nil {
			bridge.ReportProgress(ctx, "reading", 100)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	all, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(all, &members); err != nil {
		return nil, err
	}
	out := make(map[string]json.RawMessage, len(req.Fields))
	for _, f := range req.Fields {
		if v, ok := members[f]; ok {
			out[f] = v
		}
	}
	return out, nil
}

// Authenticate makes a Web eID token with the authentication key, bound
// to the origin the bridge saw.
func (b *Backend) Authenticate(ctx context.Context, req bridge.AuthenticateRequest) (*webeid.Token, error) {
	var tok *webeid.Token
	err := b.withCard(ctx, req.Reader, func(c *card.Card) error {
		key, err := c.Key(card.KeyAuthentication, b.Prompt)
		if err != nil {
			return err
		}
		bridge.ReportProgress(ctx, "signing", 0)
		pctx := card.WithPINPurpose(ctx, "Log in to "+req.Origin)
		tok, err = webeid.Create(ctxSigner{key, pctx}, req.Origin, req.Nonce, webeid.Options{Origin: b.Origin, Version: b.Version})
		return err
	})
	return tok, err
}

// ctxSigner lets a crypto.Signer call carry the request's context (PIN
// dialog purpose, cancellation when the client leaves).
type ctxSigner struct {
	k   *card.Key
	ctx context.Context
}

func (s ctxSigner) Public() crypto.PublicKey                      { return s.k.Public() }
func (s ctxSigner) Certificate() *x509.Certificate                { return s.k.Certificate() }
func (s ctxSigner) Algorithm(o crypto.SignerOpts) (string, error) { return s.k.Algorithm(o) }
func (s ctxSigner) Sign(_ io.Reader, d []byte, o crypto.SignerOpts) ([]byte, error) {
	return s.k.SignContext(s.ctx, d, o)
}

// SigningCertificate returns the qualified signing certificate and what
// the card can sign with it.
func (b *Backend) SigningCertificate(ctx context.Context, req bridge.SigningCertificateRequest) (*bridge.SigningCertificateResult, error) {
	var res *bridge.SigningCertificateResult
	err := b.withCard(ctx, req.Reader, func(c *card.Card) error {
		key, err := c.Key(card.KeySigning, nil)
		if err != nil {
			return err
		}
		res = &bridge.SigningCertificateResult{
			Certificate:                  base64.StdEncoding.EncodeToString(key.Certificate().Raw),
			SupportedSignatureAlgorithms: supported(key),
		}
		return nil
	})
	return res, err
}

var hashNames = map[string]crypto.Hash{"SHA-256": crypto.SHA256, "SHA-384": crypto.SHA384, "SHA-512": crypto.SHA512}

func supported(k *card.Key) []bridge.SignatureAlgorithm {
	var out []bridge.SignatureAlgorithm
	for _, n := range []string{"SHA-256", "SHA-384", "SHA-512"} {
		switch k.Public().(type) {
		case *ecdsa.PublicKey:
			out = append(out, bridge.SignatureAlgorithm{CryptoAlgorithm: "ECC", HashFunction: n, PaddingScheme: "NONE"})
		case *rsa.PublicKey:
			out = append(out, bridge.SignatureAlgorithm{CryptoAlgorithm: "RSA", HashFunction: n, PaddingScheme: "PKCS1.5"})
		}
	}
	return out
}

// Sign signs a caller's hash with the signing key, after checking that the
// certificate the caller got is the one on the card.
func (b *Backend) Sign(ctx context.Context, req bridge.SignRequest) (*bridge.SignResult, error) {
	h, ok := hashNames[req.HashFunction]
	if !ok {
		return nil, bridge.NewError(bridge.CodeBadRequest, "hash function "+req.HashFunction)
	}
	var res *bridge.SignResult
	err := b.withCard(ctx, req.Reader, func(c *card.Card) error {
		key, err := c.Key(card.KeySigning, b.Prompt)
		if err != nil {
			return err
		}
		if base64.StdEncoding.EncodeToString(key.Certificate().Raw) != req.Certificate {
			return bridge.NewError(bridge.CodeBadRequest, "the certificate is not the card's signing certificate")
		}
		bridge.ReportProgress(ctx, "signing", 0)
		sig, err := key.SignContext(card.WithPINPurpose(ctx, "Sign for "+req.Caller.String()), req.HashBytes, h)
		if err != nil {
			return err
		}
		alg := bridge.SignatureAlgorithm{HashFunction: req.HashFunction}
		if pub, ok := key.Public().(*ecdsa.PublicKey); ok {
			if sig, err = rawECDSA(sig, (pub.Curve.Params().BitSize+7)/8); err != nil {
				return err
			}
			alg.CryptoAlgorithm, alg.PaddingScheme = "ECC", "NONE"
		} else {
			alg.CryptoAlgorithm, alg.PaddingScheme = "RSA", "PKCS1.5"
		}
		res = &bridge.SignResult{Signature: base64.StdEncoding.EncodeToString(sig), SignatureAlgorithm: alg}
		return nil
	})
	return res, err
}

// rawECDSA turns an ASN.1 ECDSA signature into r||s, the form Web eID
// clients expect.
func rawECDSA(der []byte, size int) ([]byte, error) {
	var v struct{ R, S *big.Int }
	if _, err := asn1.Unmarshal(der, &v); err != nil {
		return nil, fmt.Errorf("ECDSA signature: %w", err)
	}
	out := make([]byte, 2*size)
	v.R.FillBytes(out[:size])
	v.S.FillBytes(out[size:])
	return out, nil
}

// ReadingProof is issue 6's record; until it exists the operation says so
// rather than answer with something incomplete.
func (b *Backend) ReadingProof(ctx context.Context, req bridge.ReadingProofRequest) (json.RawMessage, error) {
	return nil, bridge.NewError(bridge.CodeUnknownType, "reading proofs are not available in this version")
}
