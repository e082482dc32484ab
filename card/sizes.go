package card

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/eid-agent/eid-agent/card/eidfile"
)

// The card never says how big a file is (no FCI, ref §2.3), so a read
// ends each file with a short block: READ BINARY asks 256 bytes, the card
// answers 6C xx with what is left and the reader asks again, after the
// pause some cards need (auto6CDelay: 50 ms on 1.1 and 1.8), or a file of
// exactly 256·k bytes costs a last READ BINARY answered 6B 00.
//
// The identity file, its signature, the address, its signature and the
// basic key never change size on a card: files that cannot change are
// created with their exact size, updatable ones with a fixed larger size,
// zero-padded (ref §3, [C18] §4 remark). So a returning card's read asks
// each of them for exactly its size, remembered in the FileCache by chip
// serial: no 6C, no pause, no end probe.
//
// Nothing remembered is believed on its own: test cards of different PKIs
// can share a chip serial (card/cache.go). With the size, the SHA-256 of
// the file read to its end is remembered: a file read with its remembered
// size that hashes the same is that whole file. One that does not (an
// address changed in place, another card with the same serial) is whole
// only if the National Register's signatures and the basic key's hash
// hold over what was read; if not, the sizes are forgotten and those files
// read again to their end, in the same transaction.

// rememberSizes are the files whose size a read remembers.
var rememberSizes = [][]byte{PathIdentity, PathIdentitySignature, PathAddress, PathAddressSignature, PathBasicKey}

func remembersSize(path []byte) bool {
	for _, p := range rememberSizes {
		if bytes.Equal(p, path) {
			return true
		}
	}
	return false
}

func sizeKey(cardData, path []byte) string {
	serial := cardData
	if len(serial) > 16 {
		serial = serial[:16]
	}
	return fmt.Sprintf("size:%X:%X", serial, path)
}

// rememberedSize is path's size on this card and the SHA-256 of its
// content when last read whole; 0 when not known.
func rememberedSize(cache FileCache, cardData, path []byte) (int, []byte) {
	b, ok := cache.Get(sizeKey(cardData, path))
	if !ok || len(b) == 0 {
		return 0, nil
	}
	num, hexSum, _ := strings.Cut(string(b), " ")
	n, err := strconv.Atoi(num)
	sum, herr := hex.DecodeString(hexSum)
	if err != nil || herr != nil || n <= 0 || n > maxFileSize || len(sum) != sha256.Size {
		return 0, nil
	}
	return n, sum
}

func remember(cache FileCache, cardData, path, b []byte) {
	sum := sha256.Sum256(b)
	cache.Put(sizeKey(cardData, path), []byte(strconv.Itoa(len(b))+" "+hex.EncodeToString(sum[:])))
}

// firstBlock is the Le of a file's first READ BINARY when its size is
// documented: the 1.8 basic key is a P-384 SubjectPublicKeyInfo of 120
// bytes (ref §3.1). Asking 256 would cost a 6C xx re-send and, on 1.8, its
// 50 ms pause; asking 120 costs an end probe (6B 00, no pause) on a file
// of that size, and reads on as usual should a card pad it.
func firstBlock(path []byte) int {
	if bytes.Equal(path, PathBasicKey) {
		return 120
	}
	return 0
}

// readSized reads path for readFiles with a cache: with its remembered
// size when there is one, else to its end, remembering its size and hash.
// unsure reports a file read with a remembered size that is not the one
// remembered: whole only if the signatures say so (sizesHold).
func (c *Card) readSized(cache FileCache, path []byte) (b []byte, unsure bool, err error) {
	if n, sum := rememberedSize(cache, c.cardData, path); n > 0 {
		b, err = c.readFileN(path, nil, n, 0)
		if err != nil {
			return nil, false, err
		}
		if len(b) != n {
			// Shorter than remembered: the card said where it ends.
			remember(cache, c.cardData, path, b)
			return b, false, nil
		}
		got := sha256.Sum256(b)
		return b, !bytes.Equal(got[:], sum), nil
	}
	b, err = c.readFileN(path, nil, -1, firstBlock(path))
	if err == nil && len(b) > 0 {
		remember(cache, c.cardData, path, b)
	}
	return b, false, err
}

// sizesHold reports whether files read with remembered sizes are whole:
// the identity and address signatures verify and the basic key matches its
// hash (the RRN chain is not judged here).
func sizesHold(f *eidfile.Files) bool {
	in := eidfile.Verify(f, &eidfile.TrustStore{}, time.Time{})
	ok := func(verdict string) bool {
		return verdict == "" || verdict == eidfile.Valid || verdict == eidfile.Missing
	}
	return in.Identity == eidfile.Valid && ok(in.Address) && ok(in.BasicKey)
}

// rereadSized drops the remembered sizes of the files at paths and reads
// them again to their end.
func (c *Card) rereadSized(cache FileCache, paths map[string]*[]byte) error {
	for p := range paths {
		cache.Put(sizeKey(c.cardData, []byte(p)), nil)
	}
	for p, dst := range paths {
		b, _, err := c.readSized(cache, []byte(p))
		if err != nil {
			return fmt.Errorf("reading %X: %w", []byte(p), err)
		}
		*dst = b
	}
	return nil
}
