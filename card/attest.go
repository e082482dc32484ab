package card

import (
	"errors"
	"fmt"

	"github.com/eid-agent/eid-agent/card/eidfile"
)

// BasicChallengeSize is the challenge INTERNAL AUTHENTICATE takes with the
// applet 1.8 basic key: a SHA-384-sized value (algorithm 02, P-384;
// ref §8.5).
const BasicChallengeSize = 48

// ErrNoBasicKey: the card has no basic key to answer a challenge with
// (applets before 1.8, ref §8.5).
var ErrNoBasicKey = errors.New("the card has no basic key (applet 1.8 only)")

// InternalAuthenticate asks the applet 1.8 basic key (reference 81, no PIN)
// to sign challenge, 48 bytes taken as a SHA-384 digest: INTERNAL
// AUTHENTICATE 00 88 02 81 with the challenge in tag 94, sent without Le as
// T=0 wants, the raw r||s answer (96 bytes) fetched through 61 60 / GET
// RESPONSE (ref §8.5, §2.5).
//
// A card answers at most 5000 of these before it needs the PIN again
// (ref §8.5): every call spends one. Callers spend them only when they need
// a fresh proof that this chip is present, and after everything that could
// still fail has succeeded. The card must be the one whose GET CARD DATA
// was read (any read does): on an earlier applet the call is refused
// without sending anything.
func (c *Card) InternalAuthenticate(challenge []byte) ([]byte, error) {
	if len(challenge) != BasicChallengeSize {
		return nil, fmt.Errorf("INTERNAL AUTHENTICATE: challenge of %d bytes, want %d", len(challenge), BasicChallengeSize)
	}
	if len(c.cardData) < 28 || c.cardData[21] < 0x18 {
		return nil, ErrNoBasicKey
	}
	cmd := append([]byte{0x00, 0x88, 0x02, 0x81, 2 + BasicChallengeSize, 0x94, BasicChallengeSize}, challenge...)
	sig, err := c.command("INTERNAL AUTHENTICATE", cmd)
	if err != nil {
		return nil, err
	}
	if len(sig) != 2*BasicChallengeSize {
		return nil, fmt.Errorf("INTERNAL AUTHENTICATE returned %d bytes, want r||s of %d: %w", len(sig), 2*BasicChallengeSize, ErrUnsupportedCard)
	}
	return sig, nil
}

// Challenger decides, once the files are read, the challenge the basic
// key is to sign: typically a hash binding the files to a server's request
// (package agent's attestation). It returns nil to send none (a card
// without a basic key, a budget spent, files that fail a check): nothing
// is then spent on the card. An error ends the read with that error.
type Challenger func(f *eidfile.Files) ([]byte, error)

// ReadFilesAndChallenge reads parts as ReadFilesCached does (cache may be
// nil) and, in the same transaction, sends the basic key the challenge
// challenger derives from the files read, so the answer comes from the
// chip that holds those files. The challenge and the answer are in
// Files.Challenge and Files.ChallengeSignature; both are nil when the
// challenger sent none. PartChipAuthentication in parts is ignored: the
// challenger's challenge replaces the random one.
func (c *Card) ReadFilesAndChallenge(parts Parts, cache FileCache, challenger Challenger) (*eidfile.Files, error) {
	if parts == 0 {
		parts = PartAll
	}
	parts &^= PartChipAuthentication
	if parts == 0 {
		parts = PartIdentity
	}
	return c.ReadFilesThen(parts, cache, func(f *eidfile.Files) error {
		ch, err := challenger(f)
		if err != nil || ch == nil {
			return err
		}
		if f.BasicKey == nil {
			return ErrNoBasicKey
		}
		sig, err := c.InternalAuthenticate(ch)
		if err != nil {
			return fmt.Errorf("chip authentication: %w", err)
		}
		f.Challenge, f.ChallengeSignature = append([]byte(nil), ch...), sig
		return nil
	})
}

// ReadFilesThen reads parts as ReadFilesCached does (cache may be nil) and
// then runs then inside the same transaction, so that the commands then
// sends (InternalAuthenticate) reach the card the files came from, with
// no other program in between. An error from then is the read's error.
func (c *Card) ReadFilesThen(parts Parts, cache FileCache, then func(f *eidfile.Files) error) (*eidfile.Files, error) {
	return c.readFiles(parts, cache, then)
}
