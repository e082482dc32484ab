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
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"slices"
	"time"

	"github.com/eid-agent/eid-agent/internal/clock"

	"github.com/eid-agent/eid-agent/bridge"
	"github.com/eid-agent/eid-agent/bridge/webeid"
	"github.com/eid-agent/eid-agent/card"
	"github.com/eid-agent/eid-agent/card/eidfile"
	"github.com/eid-agent/eid-agent/internal/agent/audit"
	"github.com/eid-agent/eid-agent/proof"
)

// Backend implements bridge.Backend over the card layer (PC/SC or the
// simulator) with the APDU signing path.
type Backend struct {
	// Prompt asks the PIN in the agent's own dialog (never the page).
	Prompt card.PINPrompt
	// Trust judges the RRN chain of reads; nil means eidfile.SystemTrustStore.
	Trust *eidfile.TrustStore
	// QueueTimeout bounds the wait for a busy reader (default 30 s).
	QueueTimeout time.Duration
	// Version is the agent version put in tokens.
	Version string
	// Origin options for authentication (http loopback in development).
	Origin webeid.OriginOptions
	// Hardware is where the cards are; nil means PC/SC.
	Hardware Hardware
	// Monitor, when set (the daemon), serves Subscribe from one shared
	// watch and numbers insertions so the 1.8 chip check runs once per
	// card insertion. Without it each subscriber watches on its own.
	Monitor *Monitor
	// Audit, when set, gets one entry per card operation.
	Audit *audit.Log
	// Log gets operational messages (never personal data); nil discards.
	Log *slog.Logger
	// Cache, when set, makes a returning card read fast (card.FileCache).
	Cache card.FileCache
	// Proofs is the reading-proof journal; nil turns reading-proof off.
	Proofs *Proofs
	// AttestLimits bound the chip challenges attestations spend
	// (internal/agent/attest.go).
	AttestLimits AttestLimits
	// Now is the clock of attestations and counter reads; nil means
	// clock.Now.
	Now func() time.Time
	// Counter serves counter mode (NewCounter); nil refuses every caller.
	Counter *Counter

	queue   readerQueue
	chip    chipVerdicts
	applets applets
	bg      background // work the backend starts by itself (readers.go)
	attests attestBudget
}

var _ bridge.Backend = (*Backend)(nil)

func (b *Backend) queueTimeout() time.Duration {
	if b.QueueTimeout > 0 {
		return b.QueueTimeout
	}
	return 30 * time.Second
}

func (b *Backend) hw() Hardware {
	if b.Hardware != nil {
		return b.Hardware
	}
	return PCSC{}
}

func (b *Backend) log() *slog.Logger {
	if b.Log != nil {
		return b.Log
	}
	return slog.New(slog.DiscardHandler)
}

// Readers lists the readers; no card is touched except to ask a BELPIC
// card its applet version (GET CARD DATA), which needs no PIN.
func (b *Backend) Readers(ctx context.Context) ([]bridge.ReaderInfo, error) {
	var before map[string]uint64
	if b.Monitor != nil {
		before = map[string]uint64{}
		for _, r := range b.Monitor.Snapshot().Readers {
			before[r.Name] = r.Insertion
		}
	}
	rs, err := b.hw().Readers()
	if err != nil {
		return nil, err
	}
	out := make([]bridge.ReaderInfo, len(rs))
	for i, r := range rs {
		out[i] = bridge.ReaderInfo{Name: r.Name, Card: cardKind(r.Kind), AppletVersion: r.AppletVersion}
		// Remember what was learnt for ReadersNow, unless the card
		// changed while we asked.
		if r.AppletVersion != "" && before != nil && b.Monitor.Insertion(r.Name) == before[r.Name] {
			b.applets.put(r.Name, before[r.Name], r.AppletVersion)
		}
	}
	return out, nil
}

// Subscribe streams reader and card events: from the shared Monitor when
// there is one, else from a watch of its own.
func (b *Backend) Subscribe(ctx context.Context) (<-chan bridge.CardEvent, error) {
	var raw <-chan card.Event
	if b.Monitor != nil {
		raw = b.Monitor.Subscribe(ctx)
	} else {
		ch := make(chan card.Event, 16)
		go func() {
			// Watch sends nothing after it returns: closing ends this
			// subscriber, so a watch that fails is not an endless silence.
			defer close(ch)
			if err := b.hw().Watch(ctx, ch); err != nil && ctx.Err() == nil {
				b.log().Error("reader watch stopped", "err", err)
			}
		}()
		raw = ch
	}
	out := make(chan bridge.CardEvent, 16)
	go func() {
		defer close(out)
		for {
			select {
			case <-ctx.Done():
				return
			case e, ok := <-raw:
				if !ok {
					return // the monitor cut a subscriber that fell behind
				}
				typ, ok := eventType(e.Type)
				if !ok {
					continue
				}
				ev := bridge.CardEvent{Type: typ, Reader: e.Reader}
				switch typ {
				case bridge.EventCardInserted:
					ev.Card = bridge.CardUnknown
					if card.IsBELPICATR(e.ATR) {
						ev.Card = bridge.CardBELPIC
					}
				case bridge.EventServiceDown, bridge.EventServiceUp:
					ev.Reader = ""
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

// opInfo is what an operation tells the audit journal.
type opInfo struct {
	caller bridge.Caller
	op     string
	fields []string
	// want is the reader the caller asked for: caller-chosen text, never
	// logged or audited (a page could plant a name or a number there);
	// reader is the reader the operation used, once it is known.
	want   string
	reader string
	serial string // chip serial number, hex
}

// withCard runs f with the card in reader (or the only one holding a
// card), holding the reader for the whole operation, and audits it.
func (b *Backend) withCard(ctx context.Context, info opInfo, f func(c *card.Card) error) (err error) {
	defer func() { b.audit(info, err) }()
	hw := b.hw()
	name, err := hw.Choose(info.want)
	if err != nil {
		return err
	}
	info.reader = name
	release, err := b.queue.acquire(ctx, name, b.queueTimeout())
	if err != nil {
		return err
	}
	defer release()
	c, err := hw.Connect(name)
	if err != nil {
		return err
	}
	defer c.Close()
	// The audit journal identifies the card by its chip serial, from the
	// GET CARD DATA that every read and key operation sends anyway.
	defer func() {
		if d, err := eidfile.ParseCardData(c.CardData()); err == nil {
			info.serial = fmt.Sprintf("%X", d.Serial)
		}
	}()
	return f(c)
}

func (b *Backend) audit(info opInfo, err error) {
	outcome := "ok"
	if err != nil {
		outcome = string(bridge.ErrorOf(err).Code)
	}
	b.log().Info("card operation", "op", info.op, "caller", info.caller.String(), "reader", info.reader, "outcome", outcome)
	if b.Audit == nil {
		return
	}
	e := audit.Entry{Caller: info.caller.String(), Operation: info.op, Fields: info.fields,
		Reader: info.reader, Card: b.Audit.CardHash(info.serial), Outcome: outcome}
	if werr := b.Audit.Write(e); werr != nil {
		b.log().Error("audit journal write failed", "err", werr)
	}
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
		case "bundle":
			// The raw signed files for a server; not the chip challenge,
			// which the agent chose and so proves nothing to a server.
			p |= card.PartAddress | card.PartPhoto
		}
	}
	return p
}

// trust is the configured trust store plus the hardware's own roots (the
// simulator's test PKIs).
func (b *Backend) trust() *eidfile.TrustStore {
	t := b.Trust
	if t == nil {
		t, _ = eidfile.SystemTrustStore()
	}
	if rp, ok := b.hw().(RootProvider); ok {
		t = t.Clone()
		for _, r := range rp.Roots() {
			t.Add(r)
		}
	}
	return t
}

// Read reads the card and returns only the members asked for.
func (b *Backend) Read(ctx context.Context, req bridge.ReadRequest) (map[string]json.RawMessage, error) {
	var out map[string]json.RawMessage
	info := opInfo{caller: req.Caller, op: "read", fields: req.Fields, want: req.Reader}
	err := b.withCard(ctx, info, func(c *card.Card) error {
		members, r, err := b.readMembers(ctx, c, req.Fields)
		if err != nil {
			return err
		}
		out = members
		// Every reading yields its proof for billing (the identity file,
		// read every time, has what it needs), whether or not the caller
		// asks for it: proofs.list and the journal have it.
		if b.Proofs != nil {
			if _, err := b.Proofs.Append(b.proofOf(r, req.Caller, req.Fields)); err != nil {
				b.log().Error("reading-proof journal", "err", err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// readMembers reads what fields need and returns those members of the
// Reading JSON (and "bundle"), with the Reading itself.
func (b *Backend) readMembers(ctx context.Context, c *card.Card, fields []string) (map[string]json.RawMessage, *eidfile.Reading, error) {
	bridge.ReportProgress(ctx, "reading", 0)
	r, files, err := b.readCard(c, readParts(fields))
	if err != nil {
		return nil, nil, err
	}
	bridge.ReportProgress(ctx, "reading", 100)
	all, err := json.Marshal(r)
	if err != nil {
		return nil, nil, err
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(all, &members); err != nil {
		return nil, nil, err
	}
	out := make(map[string]json.RawMessage, len(fields))
	for _, f := range fields {
		if f == "bundle" {
			bb, err := json.Marshal(eidfile.NewBundle(files))
			if err != nil {
				return nil, nil, err
			}
			out[f] = bb
		} else if v, ok := members[f]; ok {
			out[f] = v
		}
	}
	return out, r, nil
}

// readCard reads parts. The 1.8 chip check (INTERNAL AUTHENTICATE, of
// which a card allows a limited number, ref §8.5) runs once per card
// insertion when a Monitor numbers insertions: later reads of the same
// insertion reuse its verdict.
func (b *Backend) readCard(c *card.Card, parts card.Parts) (*eidfile.Reading, *eidfile.Files, error) {
	var insertion uint64
	if b.Monitor != nil {
		insertion = b.Monitor.Insertion(c.Reader())
	}
	cached, haveCached := b.chip.get(c.Reader(), insertion)
	if parts&card.PartChipAuthentication != 0 && haveCached {
		parts &^= card.PartChipAuthentication
	}
	var files *eidfile.Files
	var err error
	if b.Cache != nil {
		files, err = c.ReadFilesCached(parts, b.Cache)
	} else {
		files, err = c.ReadFiles(parts)
	}
	if err != nil {
		return nil, nil, err
	}
	r, err := eidfile.DecodeVerify(files, b.trust(), clock.Now())
	if err != nil {
		return nil, nil, err
	}
	r.Card.Reader = c.Reader()
	switch {
	case r.Integrity.ChipAuthentication != "" && insertion != 0:
		b.chip.put(c.Reader(), insertion, chipVerdict{r.Integrity.ChipAuthentication, r.Integrity.ChipAuthenticationDetail})
	case haveCached && r.Integrity.ChipAuthentication == "" && r.Card.AppletVersion == "1.8":
		r.Integrity.ChipAuthentication, r.Integrity.ChipAuthenticationDetail = cached.verdict, cached.detail
	}
	return r, files, nil
}

// Authenticate makes a Web eID token with the authentication key, bound
// to the origin the bridge saw.
func (b *Backend) Authenticate(ctx context.Context, req bridge.AuthenticateRequest) (*webeid.Token, error) {
	var tok *webeid.Token
	info := opInfo{caller: req.Caller, op: "authenticate", want: req.Reader}
	err := b.withCard(ctx, info, func(c *card.Card) error {
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
	info := opInfo{caller: req.Caller, op: "signing-certificate", want: req.Reader}
	err := b.withCard(ctx, info, func(c *card.Card) error {
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
	info := opInfo{caller: req.Caller, op: "sign", want: req.Reader}
	err := b.withCard(ctx, info, func(c *card.Card) error {
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

// proofOf is the proof of an eID reading made for caller, at this moment,
// which gave it fields (proofs.list shows the caller only the records
// whose SSIN it received).
func (b *Backend) proofOf(r *eidfile.Reading, caller bridge.Caller, fields []string) proof.Record {
	rec := proof.FromReading(r, proof.InputChip, clock.Now())
	rec.Caller = caller.String()
	rec.Fields = slices.Compact(slices.Sorted(slices.Values(fields)))
	return rec
}

// ReadingProof reads the card and records the reading's proof (support
// type from the document type, input type chip, Brussels time, card
// number, SSIN, validity) in the journal.
func (b *Backend) ReadingProof(ctx context.Context, req bridge.ReadingProofRequest) (*bridge.ReadingProofResult, error) {
	if b.Proofs == nil {
		return nil, bridge.NewError(bridge.CodeUnknownType, "reading proofs are not configured")
	}
	fields := req.Fields
	if !slices.Contains(fields, "identity") {
		fields = append(slices.Clone(fields), "identity")
	}
	var res *bridge.ReadingProofResult
	// The audit names everything the answer gives out: the fields asked
	// for and those whose data the proof itself carries.
	info := opInfo{caller: req.Caller, op: "reading-proof", fields: bridge.ReadingProofFields(req.Fields), want: req.Reader}
	err := b.withCard(ctx, info, func(c *card.Card) error {
		members, r, err := b.readMembers(ctx, c, fields)
		if err != nil {
			return err
		}
		rec, err := b.Proofs.Append(b.proofOf(r, req.Caller, info.fields))
		if err != nil {
			return err
		}
		raw, err := json.Marshal(rec)
		if err != nil {
			return err
		}
		res = &bridge.ReadingProofResult{Proof: raw, Reading: members}
		return nil
	})
	return res, err
}
