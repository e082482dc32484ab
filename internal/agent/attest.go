package agent

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/sha512"
	"encoding/binary"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/eid-agent/eid-agent/bridge"
	"github.com/eid-agent/eid-agent/card"
	"github.com/eid-agent/eid-agent/card/eidfile"
	"github.com/eid-agent/eid-agent/internal/clock"
)

// The chip-challenge budget. An applet 1.8 card answers 5000 INTERNAL
// AUTHENTICATE commands and then refuses them until the holder next types
// the PIN (ref §8.5); a page that could ask for attestations in a loop
// would use a card up for every other program. So the agent spends at most
// DefaultAttestPerInsertion challenges per card insertion (all callers
// together) and DefaultAttestPerOriginHourly per caller in any hour (all
// cards together). The daemon's [attestation] settings change them.
const (
	DefaultAttestPerInsertion    = 5
	DefaultAttestPerOriginHourly = 30
)

// AttestLimits bound the chip challenges attestations spend. Zero fields
// take the defaults above.
type AttestLimits struct {
	PerInsertion    int
	PerOriginHourly int
}

func (l AttestLimits) withDefaults() AttestLimits {
	if l.PerInsertion <= 0 {
		l.PerInsertion = DefaultAttestPerInsertion
	}
	if l.PerOriginHourly <= 0 {
		l.PerOriginHourly = DefaultAttestPerOriginHourly
	}
	return l
}

// attestBudget counts the challenges spent. Entries of older insertions
// are dropped as soon as a reader sees a new one; per-origin times older
// than an hour are dropped on every use.
type attestBudget struct {
	mu        sync.Mutex
	insertion map[string]insertionSpend // by reader
	origin    map[string][]time.Time
}

type insertionSpend struct {
	insertion uint64
	n         int
}

// take spends one challenge for reader's insertion and caller at now, or
// says which limit is reached (spending nothing).
func (a *attestBudget) take(lim AttestLimits, reader string, insertion uint64, caller string, now time.Time) error {
	lim = lim.withDefaults()
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.insertion == nil {
		a.insertion, a.origin = map[string]insertionSpend{}, map[string][]time.Time{}
	}
	ins := a.insertion[reader]
	if ins.insertion != insertion {
		ins = insertionSpend{insertion: insertion}
	}
	// insertion 0 (no monitor numbering insertions: tests, the CLI) counts
	// per reader until the agent restarts.
	if ins.n >= lim.PerInsertion {
		return bridge.NewError(bridge.CodeRateLimited, fmt.Sprintf("this card insertion has spent its %d chip challenges; remove and insert the card", lim.PerInsertion))
	}
	recent := slices.DeleteFunc(a.origin[caller], func(t time.Time) bool { return now.Sub(t) >= time.Hour || t.After(now) })
	if len(recent) >= lim.PerOriginHourly {
		a.origin[caller] = recent
		return bridge.NewError(bridge.CodeRateLimited, fmt.Sprintf("this caller has spent its %d chip challenges of the last hour", lim.PerOriginHourly))
	}
	ins.n++
	a.insertion[reader] = ins
	a.origin[caller] = append(recent, now)
	return nil
}

// attestationLabel separates the attestation's challenges from anything
// else a basic or authentication key signs (the random chip check, Web eID
// tokens): the challenge is a hash of a string that starts with it.
const attestationLabel = eidfile.AttestationFormat + "\x00"

// AttestationChallenge is the challenge of an attestation (docs/verify.md,
// "The challenge"):
//
//	SHA-384( "eid-attestation:1" 0x00 || H(origin) || H(nonce) || H(files) )
//
// with H = SHA-384 and H(files) the hash, in the bundle's member order
// (cardData, identity, identitySignature, address, addressSignature,
// photo, basicKey, rrnCertificate, rootCertificate), of each file's length
// as 4 bytes big-endian followed by the file; an absent file has length 0.
// package verify computes it on its own from the same description.
func AttestationChallenge(origin, nonce string, b *eidfile.Bundle) []byte {
	ho := sha512.Sum384([]byte(origin))
	hn := sha512.Sum384([]byte(nonce))
	hf := sha512.New384()
	var n [4]byte
	for _, f := range [][]byte{b.CardData, b.Identity, b.IdentitySignature, b.Address, b.AddressSignature,
		b.Photo, b.BasicKey, b.RRNCertificate, b.RootCertificate} {
		binary.BigEndian.PutUint32(n[:], uint32(len(f)))
		hf.Write(n[:])
		hf.Write(f)
	}
	h := sha512.New384()
	h.Write([]byte(attestationLabel))
	h.Write(ho[:])
	h.Write(hn[:])
	h.Write(hf.Sum(nil))
	return h.Sum(nil)
}

// attestParts maps the attestation's fields to the files to read.
func attestParts(fields []string, withAuth bool) card.Parts {
	p := card.PartIdentity
	if slices.Contains(fields, "address") {
		p |= card.PartAddress
	}
	if slices.Contains(fields, "photo") {
		p |= card.PartPhoto
	}
	if withAuth {
		// The authentication certificate and its CA travel with the
		// signature, for the server to chain.
		p |= card.PartCertificates
	}
	return p
}

// bundleOf is the attestation's bundle: the files of the fields released,
// with the card data, the basic key and the RRN certificate, and nothing
// else (the user certificates read for withAuthentication travel in
// Authentication, not in the bundle).
func bundleOf(f *eidfile.Files) *eidfile.Bundle {
	b := eidfile.NewBundle(f)
	b.RootCertificate = nil
	return b
}

// Attest implements bridge.AttestBackend: it reads the files of the fields
// asked, and on an applet 1.8 card has the basic key sign the challenge
// bound to the caller's origin, the nonce and those files, in the same
// card transaction. Everything that can fail before the challenge does
// (reader, consent, reading, the files' own signatures, the budget) fails
// without spending one.
func (b *Backend) Attest(ctx context.Context, req bridge.AttestRequest) (*eidfile.Attestation, error) {
	var att *eidfile.Attestation
	info := opInfo{caller: req.Caller, op: "attest", fields: req.Fields, want: req.Reader}
	err := b.withCard(ctx, info, func(c *card.Card) error {
		var err error
		att, err = b.attestCard(ctx, c, req)
		return err
	})
	if err != nil {
		return nil, err
	}
	return att, nil
}

// attestCard is Attest on an open card (the counter's insertion read uses
// it too).
func (b *Backend) attestCard(ctx context.Context, c *card.Card, req bridge.AttestRequest) (*eidfile.Attestation, error) {
	var insertion uint64
	if b.Monitor != nil {
		insertion = b.Monitor.Insertion(c.Reader())
	}
	now := b.now()
	var bundle *eidfile.Bundle
	var challenge []byte
	bridge.ReportProgress(ctx, "reading", 0)
	files, err := c.ReadFilesAndChallenge(attestParts(req.Fields, req.WithAuthentication), b.Cache, func(f *eidfile.Files) ([]byte, error) {
		bundle = bundleOf(f)
		if err := checkBeforeChallenge(f); err != nil {
			return nil, err
		}
		challenge = AttestationChallenge(req.Origin, req.Nonce, bundle)
		if f.BasicKey == nil {
			return nil, nil // before 1.8: nothing to spend
		}
		if err := b.attests.take(b.AttestLimits, c.Reader(), insertion, req.Caller.String(), now); err != nil {
			return nil, err
		}
		return challenge, nil
	})
	if err != nil {
		return nil, err
	}
	bridge.ReportProgress(ctx, "reading", 100)
	att := &eidfile.Attestation{Format: eidfile.AttestationFormat, Origin: req.Origin, Nonce: req.Nonce,
		Fields: slices.Clone(req.Fields), Bundle: bundle, ChipSignature: files.ChallengeSignature}
	if files.ChallengeSignature != nil {
		att.Challenge = challenge
		// The answer is also this insertion's chip check: a later read
		// need not spend another challenge for it.
		if insertion != 0 {
			in := eidfile.Verify(files, &eidfile.TrustStore{}, now)
			b.chip.put(c.Reader(), insertion, chipVerdict{in.ChipAuthentication, in.ChipAuthenticationDetail})
		}
	}
	if req.WithAuthentication {
		auth, err := b.attestAuthentication(ctx, c, files, req.Origin, challenge)
		if err != nil {
			return nil, err
		}
		att.Challenge, att.Authentication = challenge, auth
	}
	return att, nil
}

// checkBeforeChallenge refuses files that fail their own signatures: a
// server would reject their attestation, so the card's answer would be
// wasted. The RRN chain is the server's to judge (its trust store may
// differ from the agent's) and is not checked here.
func checkBeforeChallenge(f *eidfile.Files) error {
	return checkVerdicts(eidfile.Verify(f, &eidfile.TrustStore{}, time.Time{}), f)
}

// checkVerdicts is checkBeforeChallenge with the files' verdicts already
// computed (the counter's read verifies once for its push and its
// attestations).
func checkVerdicts(in eidfile.Integrity, f *eidfile.Files) error {
	for _, v := range []struct{ name, verdict, detail string }{
		{"identity", in.Identity, in.IdentityDetail},
		{"address", in.Address, in.AddressDetail},
		{"photo", in.Photo, in.PhotoDetail},
		{"basic key", in.BasicKey, in.BasicKeyDetail},
	} {
		if v.verdict == eidfile.Invalid {
			return bridge.NewError(bridge.CodeNotBelpic, fmt.Sprintf("the card's %s fails its check (%s); no challenge spent", v.name, v.detail))
		}
	}
	if f.Identity == nil || f.IdentitySignature == nil || f.RRNCert == nil {
		return bridge.NewError(bridge.CodeNotBelpic, "the card lacks its identity file, signature or RRN certificate")
	}
	return nil
}

// attestAuthentication has the authentication key sign the challenge as a
// SHA-384 digest (PIN in the agent's dialog).
func (b *Backend) attestAuthentication(ctx context.Context, c *card.Card, f *eidfile.Files, origin string, challenge []byte) (*eidfile.AttestationAuthentication, error) {
	key, err := c.Key(card.KeyAuthentication, b.Prompt)
	if err != nil {
		return nil, err
	}
	alg, err := key.Algorithm(crypto.SHA384)
	if err != nil {
		return nil, err
	}
	bridge.ReportProgress(ctx, "signing", 0)
	sig, err := key.SignContext(card.WithPINPurpose(ctx, "Prove your presence to "+origin), challenge, crypto.SHA384)
	if err != nil {
		return nil, err
	}
	if pub, ok := key.Public().(*ecdsa.PublicKey); ok {
		if sig, err = rawECDSA(sig, (pub.Curve.Params().BitSize+7)/8); err != nil {
			return nil, err
		}
	}
	auth := &eidfile.AttestationAuthentication{Certificate: key.Certificate().Raw, Algorithm: alg, Signature: sig}
	if ca, err := eidfile.CertificateDER(f.CACert); err == nil && ca != nil {
		auth.CACertificate = ca
	}
	return auth, nil
}

func (b *Backend) now() time.Time {
	if b.Now != nil {
		return b.Now()
	}
	return clock.Now()
}

var _ bridge.AttestBackend = (*Backend)(nil)
