package card

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/eid-agent/eid-agent/card/eidfile"
)

// FileCache keeps file contents between reads of the same card so that a
// returning card reads fast. Implementations must be safe for concurrent
// use; the agent's is in memory and optionally on disk.
type FileCache interface {
	Get(key string) ([]byte, bool)
	Put(key string, data []byte)
}

// What a read may take from the cache, and how each is checked against the
// card first (nothing cached is believed on its own):
//
//   - the photo, by the hash in the identity file: it is used only when it
//     hashes to the value the National Register signed (the identity file is
//     always read from the card);
//   - the certificates, by the chip serial number (GET CARD DATA) and file:
//     the last 256 bytes of the cached certificate are read from the card at
//     the same offset and must be equal. They hold the issuer's signature,
//     which covers the whole certificate: a renewed certificate, or another
//     card's (test cards of different PKIs can share chip serials and even
//     their certificates' first block), differs there. This turns a
//     five-block certificate read into one block.
func photoKey(hash []byte) string { return "photo:" + hex.EncodeToString(hash) }

func certKey(cardData []byte, path []byte) string {
	serial := cardData
	if len(serial) > 16 {
		serial = serial[:16]
	}
	return fmt.Sprintf("cert:%X:%X", serial, path)
}

// readCachedPhoto returns the cached photo matching the identity file's
// signed hash, if any.
func readCachedPhoto(cache FileCache, identity []byte) ([]byte, bool) {
	h := eidfile.PhotoHash(identity)
	if h == nil {
		return nil, false
	}
	b, ok := cache.Get(photoKey(h))
	if !ok || !eidfile.PhotoMatches(h, b) {
		return nil, false
	}
	return b, true
}

// readCertCached compares the end of the cached certificate with the
// card's file at the same offset and, when equal, returns the cached one;
// otherwise the file is read and cached.
func (c *Card) readCertCached(cache FileCache, path []byte) ([]byte, error) {
	key := certKey(c.cardData, path)
	cached, ok := cache.Get(key)
	if ok && len(cached) >= 256 && len(cached) <= maxFileSize {
		tail, err := c.readAt(path, len(cached)-256, 256)
		var se *StatusError
		if err != nil && !errors.As(err, &se) {
			return nil, err // card removed and the like; a status word means "read it all"
		}
		if err == nil && bytes.Equal(tail, cached[len(cached)-256:]) {
			return cached, nil
		}
	}
	b, err := c.readFile(path, derSize)
	if err == nil && len(b) > 0 {
		cache.Put(key, b)
	}
	return b, err
}

// readAt selects path and reads n bytes at offset (one READ BINARY).
func (c *Card) readAt(path []byte, offset, n int) ([]byte, error) {
	if err := c.selectFile(path); err != nil {
		return nil, err
	}
	data, sw, err := c.Transmit(readBinary(offset, n))
	if err != nil {
		return nil, err
	}
	if sw != 0x9000 {
		return nil, swError("READ BINARY", sw)
	}
	return data, nil
}
