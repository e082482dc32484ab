package card

import (
	"bytes"
	"encoding/hex"
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
//     the first block of the file is read from the card and must equal the
//     cached certificate's first block (version, serial number, issuer and
//     validity: a renewed certificate differs), which turns a five-block
//     certificate read into one block.
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

// readCertCached reads a certificate file's first block and, when it
// matches the cached certificate, returns the cached one; otherwise the
// rest of the file is read and cached.
func (c *Card) readCertCached(cache FileCache, path []byte) ([]byte, error) {
	key := certKey(c.cardData, path)
	cached, ok := cache.Get(key)
	if !ok || len(cached) < 256 {
		b, err := c.readFile(path, derSize)
		if err == nil && len(b) > 0 {
			cache.Put(key, b)
		}
		return b, err
	}
	first, err := c.readFile(path, func([]byte) int { return 256 })
	if err != nil {
		return nil, err
	}
	if bytes.Equal(first, cached[:len(first)]) {
		return cached, nil
	}
	b, err := c.readFile(path, derSize)
	if err == nil && len(b) > 0 {
		cache.Put(key, b)
	}
	return b, err
}
