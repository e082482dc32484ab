package card

import (
	"crypto/rand"
	"fmt"
	"time"

	"github.com/eid-agent/eid-agent/internal/clock"

	"github.com/eid-agent/eid-agent/card/eidfile"
)

// Parts selects what Read reads. The identity file, its signature and the
// RRN certificate are always read: nothing can be verified without them.
// Zero means PartAll; PartIdentity alone asks for just those three files.
type Parts uint

const (
	PartIdentity Parts = 1 << iota // identity, its signature, RRN certificate (always read)
	PartAddress
	PartPhoto
	PartCertificates // authentication, signing, CA and root certificates
	// PartChipAuthentication runs the applet 1.8 basic-key challenge. A
	// card answers at most 5000 of them before it needs the PIN (ref §8.5),
	// so callers that read the same card often should ask for it once per
	// insertion.
	PartChipAuthentication
	PartAll = PartIdentity | PartAddress | PartPhoto | PartCertificates | PartChipAuthentication
)

// ReadOptions tune Read.
type ReadOptions struct {
	Parts Parts               // zero means PartAll
	Trust *eidfile.TrustStore // nil means DefaultTrustStore()
	// Cache, when set, supplies the photo and certificates a card has
	// shown before, after checking them against the card (FileCache).
	Cache FileCache
	// Now is the time the RRN chain is judged at; zero means clock.Now().
	Now time.Time
}

// ReadCardData sends GET CARD DATA (80 E4 00 00 1C, ref §5) and returns the
// raw response, which CardData keeps. A card that does not know the command
// is not a BELPIC card.
func (c *Card) ReadCardData() ([]byte, error) {
	data, err := c.command("GET CARD DATA", []byte{claBelpic, insGetCardData, 0x00, 0x00, 0x1C})
	if err != nil {
		if _, ok := err.(*StatusError); ok {
			return nil, fmt.Errorf("%w (%v)", ErrUnsupportedCard, err)
		}
		return nil, err
	}
	if len(data) < 28 {
		// Every applet answers 28 bytes (ref §5); OpenSC insists on it too.
		return nil, fmt.Errorf("%w: GET CARD DATA returned %d bytes", ErrUnsupportedCard, len(data))
	}
	c.cardData = data
	return data, nil
}

// CardData returns a copy of the card's last GET CARD DATA answer, as
// ReadCardData (or a read) got it, without asking the card: nil before the
// first.
func (c *Card) CardData() []byte { return append([]byte(nil), c.cardData...) }

// ReadFiles reads the card's files inside one transaction. Either every
// requested file is returned or an error is: a card removed half-way gives
// ErrCardRemoved, never a partial Files.
func (c *Card) ReadFiles(parts Parts) (*eidfile.Files, error) { return c.readFiles(parts, nil, nil) }

// ReadFilesCached is ReadFiles taking the photo and certificates from
// cache when the card proves them current (see FileCache).
func (c *Card) ReadFilesCached(parts Parts, cache FileCache) (*eidfile.Files, error) {
	return c.readFiles(parts, cache, nil)
}

// readFiles reads parts; then, when not nil, runs in the same transaction
// after the files are read (card/attest.go), so that whatever it sends
// reaches the card the files came from.
func (c *Card) readFiles(parts Parts, cache FileCache, then func(f *eidfile.Files) error) (*eidfile.Files, error) {
	if parts == 0 {
		parts = PartAll
	}
	f := &eidfile.Files{ATR: c.ATR()}
	err := c.withTransaction(func() error {
		var err error
		if f.CardData, err = c.ReadCardData(); err != nil {
			return err
		}
		type item struct {
			dst      *[]byte
			path     []byte
			cert     bool
			optional bool // absent on some cards: 6A82 leaves the field nil
		}
		items := []item{
			{&f.Identity, PathIdentity, false, false},
			{&f.IdentitySignature, PathIdentitySignature, false, false},
			{&f.RRNCert, PathRRNCert, true, false},
		}
		if parts&PartAddress != 0 {
			items = append(items, item{&f.Address, PathAddress, false, false}, item{&f.AddressSignature, PathAddressSignature, false, false})
		}
		if parts&PartPhoto != 0 {
			items = append(items, item{&f.Photo, PathPhoto, false, false})
		}
		if len(f.CardData) > 21 && f.CardData[21] >= 0x18 {
			// The basic public key exists from applet 1.8 on (ref §3.1).
			items = append(items, item{&f.BasicKey, PathBasicKey, false, true})
		}
		if parts&PartCertificates != 0 {
			items = append(items,
				item{&f.AuthCert, PathAuthCert, true, true},
				item{&f.SignCert, PathSignCert, true, true},
				item{&f.CACert, PathCACert, true, true},
				item{&f.RootCert, PathRootCert, true, true})
		}
		unsure := map[string]*[]byte{} // read with a remembered size, content changed (card/sizes.go)
		for _, it := range items {
			var size func([]byte) int
			if it.cert {
				size = derSize
			}
			if cache != nil && it.dst == &f.Photo {
				if b, ok := readCachedPhoto(cache, f.Identity); ok {
					f.Photo = b
					continue
				}
			}
			var b []byte
			var err error
			switch {
			case cache != nil && it.cert:
				b, err = c.readCertCached(cache, it.path)
			case cache != nil && remembersSize(it.path):
				var u bool
				if b, u, err = c.readSized(cache, it.path); u {
					unsure[string(it.path)] = it.dst
				}
			default:
				b, err = c.readFileN(it.path, size, -1, firstBlock(it.path))
			}
			if cache != nil && err == nil && it.dst == &f.Photo {
				if h := eidfile.PhotoHash(f.Identity); h != nil && eidfile.PhotoMatches(h, b) {
					cache.Put(photoKey(h), b)
				}
			}
			if err != nil {
				if it.optional && isNotFound(err) {
					continue
				}
				return fmt.Errorf("reading %X: %w", it.path, err)
			}
			*it.dst = b
		}
		if len(unsure) > 0 && !sizesHold(f) {
			if err := c.rereadSized(cache, unsure); err != nil {
				return err
			}
		}
		if f.BasicKey != nil && parts&PartChipAuthentication != 0 {
			f.Challenge, f.ChallengeSignature, err = c.internalAuthenticate()
			if err != nil {
				return fmt.Errorf("chip authentication: %w", err)
			}
		}
		if then != nil {
			return then(f)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return f, nil
}

// Read reads, decodes and verifies the card.
func (c *Card) Read(opt ReadOptions) (*eidfile.Reading, error) {
	f, err := c.readFiles(opt.Parts, opt.Cache, nil)
	if err != nil {
		return nil, err
	}
	trust := opt.Trust
	if trust == nil {
		trust = eidfile.DefaultTrustStore()
	}
	now := opt.Now
	if now.IsZero() {
		now = clock.Now()
	}
	r, err := eidfile.DecodeVerify(f, trust, now)
	if err != nil {
		return nil, err
	}
	r.Card.Reader = c.reader
	return r, nil
}

// internalAuthenticate asks the basic key to sign 48 random bytes (the
// chip check of PartChipAuthentication; see InternalAuthenticate).
func (c *Card) internalAuthenticate() (challenge, sig []byte, err error) {
	challenge = make([]byte, BasicChallengeSize)
	if _, err := rand.Read(challenge); err != nil {
		return nil, nil, err
	}
	sig, err = c.InternalAuthenticate(challenge)
	if err != nil {
		return nil, nil, err
	}
	return challenge, sig, nil
}
