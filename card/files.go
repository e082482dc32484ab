package card

import (
	"errors"
	"fmt"

	"github.com/eid-agent/eid-agent/card/eidfile"
)

// File identifiers of the BELPIC applet (ref §3.1). A path is the absolute
// path with the MF (3F00) included.
var (
	PathIdentity          = []byte{0x3F, 0x00, 0xDF, 0x01, 0x40, 0x31}
	PathIdentitySignature = []byte{0x3F, 0x00, 0xDF, 0x01, 0x40, 0x32}
	PathAddress           = []byte{0x3F, 0x00, 0xDF, 0x01, 0x40, 0x33}
	PathAddressSignature  = []byte{0x3F, 0x00, 0xDF, 0x01, 0x40, 0x34}
	PathPhoto             = []byte{0x3F, 0x00, 0xDF, 0x01, 0x40, 0x35}
	PathBasicKey          = []byte{0x3F, 0x00, 0xDF, 0x01, 0x40, 0x40} // applet 1.8 only
	PathAuthCert          = []byte{0x3F, 0x00, 0xDF, 0x00, 0x50, 0x38}
	PathSignCert          = []byte{0x3F, 0x00, 0xDF, 0x00, 0x50, 0x39}
	PathCACert            = []byte{0x3F, 0x00, 0xDF, 0x00, 0x50, 0x3A}
	PathRootCert          = []byte{0x3F, 0x00, 0xDF, 0x00, 0x50, 0x3B}
	PathRRNCert           = []byte{0x3F, 0x00, 0xDF, 0x00, 0x50, 0x3C}
)

// maxFileSize bounds a file read: READ BINARY offsets have 15 bits
// (ref §2.4), and no BELPIC file comes close.
const maxFileSize = 0x7FFF

// selectFile makes path the current file. The absolute-path form with the MF
// included is what OpenSC, the minidriver and commons-eid send and what real
// cards accept although the manuals describe the path without 3F00; when a
// card refuses it, walk the path one FID at a time as eid-mw does
// (ref §2.3).
func (c *Card) selectFile(path []byte) error {
	cmd := append([]byte{claISO, insSelect, 0x08, 0x0C, byte(len(path))}, path...)
	_, sw, err := c.Transmit(cmd)
	if err != nil {
		return err
	}
	switch sw {
	case 0x9000:
		return nil
	case 0x6A82, 0x6A86, 0x6A87:
		// fall back below
	default:
		return swError("SELECT", sw)
	}
	for i := 0; i+1 < len(path); i += 2 {
		if _, err := c.command("SELECT", []byte{claISO, insSelect, 0x02, 0x0C, 0x02, path[i], path[i+1]}); err != nil {
			return err
		}
	}
	return nil
}

// readFile reads the transparent EF at path. The card never says how big a
// file is (no FCI, ref §2.3), so it reads blocks until the card signals the
// end: a short block with 9000, 6B 00 (offset past the end), or 6C xx
// (resolved by Transmit into a short block) — real cards and PC/SC stacks
// show all three (ref §2.4).
//
// size, when not nil, is asked after each block for the file's useful
// length given what was read so far (-1: unknown yet); reading stops there.
// Certificate files use it to stop at the end of the DER certificate instead
// of reading kilobytes of zero padding (ref §10).
func (c *Card) readFile(path []byte, size func(read []byte) int) ([]byte, error) {
	return c.readFileN(path, size, -1, 0)
}

// readFileN is readFile knowing more: want >= 0 is the file's size (every
// READ BINARY then asks exactly what is left, so the end costs neither a
// 6C xx re-send nor an end probe), first > 0 the Le of the first block (a
// file of known typical size read in one command; see firstBlock).
func (c *Card) readFileN(path []byte, size func(read []byte) int, want, first int) ([]byte, error) {
	if err := c.selectFile(path); err != nil {
		return nil, err
	}
	block := c.ReadBlock
	if block <= 0 || block > 256 {
		block = 256
	}
	var out []byte
	if want == 0 {
		return []byte{}, nil
	}
	for {
		n := block
		if first > 0 && len(out) == 0 && first < n {
			n = first
		}
		if want >= 0 && want-len(out) < n {
			n = want - len(out)
		}
		if len(out) > maxFileSize {
			return nil, &eidfile.FormatError{File: fmt.Sprintf("%X", path), Offset: -1, Reason: "file larger than the 32 KB a card can address"}
		}
		data, sw, err := c.Transmit(readBinary(len(out), n))
		if err != nil {
			return nil, err
		}
		switch {
		case sw == 0x6B00:
			return out, nil
		case sw != 0x9000:
			return nil, swError("READ BINARY", sw)
		}
		if len(data) > n {
			return nil, fmt.Errorf("READ BINARY returned %d bytes for Le %d: %w", len(data), n, ErrUnsupportedCard)
		}
		out = append(out, data...)
		if len(data) < n {
			return out, nil
		}
		if size != nil && want < 0 {
			want = size(out)
		}
		if want >= 0 && len(out) >= want {
			return out[:want], nil
		}
	}
}

// derSize is the useful length of a certificate file read so far (see
// eidfile.DERSize): readFile stops there instead of reading the padding.
func derSize(b []byte) int { return eidfile.DERSize(b) }

// isNotFound reports whether err is the card saying a file does not exist.
func isNotFound(err error) bool {
	var se *StatusError
	return errors.As(err, &se) && se.SW() == 0x6A82
}
