package virtual

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
)

// AIDs the applet answers to by SELECT P1=04 (ref §2.2).
var (
	AppletAID  = []byte{0xA0, 0x00, 0x00, 0x00, 0x30, 0x29, 0x05, 0x70, 0x00, 0xAD, 0x13, 0x10, 0x01, 0x01, 0xFF}
	PKCS15AID  = []byte{0xA0, 0x00, 0x00, 0x01, 0x77, 0x50, 0x4B, 0x43, 0x53, 0x2D, 0x31, 0x35} // DF00, "PKCS-15"
	IDFilesAID = []byte{0xA0, 0x00, 0x00, 0x01, 0x77, 0x49, 0x64, 0x46, 0x69, 0x6C, 0x65, 0x73} // DF01, "IdFiles"
)

// File paths, as keys of Profile.Files (ref §3.1).
const (
	PathDIR         = "3F002F00"
	PathODF         = "3F00DF005031"
	PathTokenInfo   = "3F00DF005032"
	PathAODF        = "3F00DF005034"
	PathPrKDF       = "3F00DF005035"
	PathCDF         = "3F00DF005037"
	PathAuthCert    = "3F00DF005038"
	PathSignCert    = "3F00DF005039"
	PathCACert      = "3F00DF00503A"
	PathRootCert    = "3F00DF00503B"
	PathRRNCert     = "3F00DF00503C"
	PathIdentity    = "3F00DF014031"
	PathIdentitySig = "3F00DF014032"
	PathAddress     = "3F00DF014033"
	PathAddressSig  = "3F00DF014034"
	PathPhoto       = "3F00DF014035"
	PathBasicKey    = "3F00DF014040" // applet 1.8 only
)

const mfFID = 0x3F00

// node is a DF or a transparent EF. The card has no FCI and no way to create
// files (ref §3), so the tree is fixed when the card is built.
type node struct {
	fid      uint16
	parent   *node
	children []*node
	df       bool
	aid      []byte
	data     []byte
}

type fileSystem struct {
	root *node
}

// normalizePath upper-cases a path key and checks it is a whole number of
// 2-byte FIDs starting with the MF.
func normalizePath(p string) (string, error) {
	up := strings.ToUpper(p)
	b, err := hex.DecodeString(up)
	if err != nil || len(b) < 4 || len(b)%2 != 0 {
		return "", fmt.Errorf("file path %q: want hex FIDs, 2 bytes each", p)
	}
	if b[0] != 0x3F || b[1] != 0x00 {
		return "", fmt.Errorf("file path %q: must start with 3F00", p)
	}
	return up, nil
}

// newFileSystem builds the tree; every intermediate FID of a path is a DF.
// Paths must have been checked with normalizePath (Profile.Validate).
func newFileSystem(files map[string][]byte) *fileSystem {
	root := &node{fid: mfFID, df: true}
	keys := make([]string, 0, len(files))
	for k := range files {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		p, err := normalizePath(k)
		if err != nil {
			continue
		}
		b, _ := hex.DecodeString(p)
		n := root
		for i := 2; i < len(b); i += 2 {
			fid := uint16(b[i])<<8 | uint16(b[i+1])
			child := n.child(fid)
			if child == nil {
				child = &node{fid: fid, parent: n}
				n.children = append(n.children, child)
			}
			if i+2 < len(b) {
				child.df = true
			}
			n = child
		}
		if !n.df {
			n.data = files[k]
		}
	}
	if df := root.child(0xDF00); df != nil && df.df {
		df.aid = PKCS15AID
	}
	if df := root.child(0xDF01); df != nil && df.df {
		df.aid = IDFilesAID
	}
	return &fileSystem{root: root}
}

func (n *node) child(fid uint16) *node {
	for _, c := range n.children {
		if c.fid == fid {
			return c
		}
	}
	return nil
}

// currentDF is the DF of the current file: itself, or an EF's parent.
func (n *node) currentDF() *node {
	if n.df {
		return n
	}
	return n.parent
}

// selectFile implements SELECT FILE (ref §2.2, §2.3, §12 items 2–3). The
// card never returns FCI; the host learns nothing about sizes.
func (c *Card) selectFile(cmd command) []byte {
	data := cmd.data
	switch cmd.p1 {
	case 0x04:
		// eid-mw selects the applet with P2=00 and expects a bare 90 00, the
		// others use 0C (ref §2.2).
		if cmd.p2 != 0x00 && cmd.p2 != 0x0C {
			return sw(swWrongP1P2)
		}
		return c.selectAID(data)
	case 0x02, 0x08:
		if cmd.p2 != 0x0C {
			return sw(swWrongP1P2)
		}
	default:
		return sw(swWrongP1P2)
	}
	if !c.appletSelected {
		return sw(swFileNotFound)
	}
	if cmd.p1 == 0x02 {
		if len(data) != 2 {
			return sw(swLcInconsistent)
		}
		fid := uint16(data[0])<<8 | uint16(data[1])
		n := c.selectFID(fid)
		if n == nil {
			return sw(swFileNotFound)
		}
		c.cur = n
		return sw(swOK)
	}
	if len(data) == 0 || len(data)%2 != 0 {
		return sw(swLcInconsistent)
	}
	// The manuals give the path without the MF, but OpenSC, the minidriver
	// and commons-eid send it with 3F00 and work on real cards: take both
	// (ref §2.3).
	if data[0] == 0x3F && data[1] == 0x00 {
		data = data[2:]
	}
	n := c.fs.root
	for i := 0; i < len(data); i += 2 {
		n = n.child(uint16(data[i])<<8 | uint16(data[i+1]))
		if n == nil || (!n.df && i+2 < len(data)) {
			return sw(swFileNotFound)
		}
	}
	c.cur = n
	return sw(swOK)
}

// selectFID resolves a FID the way the applet does for P1=02: the MF from
// anywhere, the current DF itself, or a child of the current DF — one level
// at a time, which is how eid-mw walks a path (ref §2.3). Selecting an EF of
// another DF is not documented; it fails here, which eid-mw tolerates by
// falling back to the walk.
func (c *Card) selectFID(fid uint16) *node {
	if fid == mfFID {
		return c.fs.root
	}
	df := c.cur.currentDF()
	if df.fid == fid {
		return df
	}
	return df.child(fid)
}

func (c *Card) selectAID(aid []byte) []byte {
	if len(aid) == 0 {
		// An empty AID selects the card manager; Belpic is back after a
		// SELECT of its AID or a reset (ref §2.2).
		c.appletSelected = false
		return sw(swOK)
	}
	if len(aid) > 16 {
		return sw(swLcInconsistent)
	}
	// The real card accepts a longer AID that starts with the stored one
	// (ref §2.2, prefix match).
	if bytes.HasPrefix(aid, AppletAID) {
		c.appletSelected = true
		c.cur = c.fs.root
		return sw(swOK)
	}
	if c.appletSelected {
		for _, df := range c.fs.root.children {
			if df.aid != nil && bytes.HasPrefix(aid, df.aid) {
				c.cur = df
				return sw(swOK)
			}
		}
	}
	return sw(swFileNotFound)
}

// readBinary implements READ BINARY (ref §2.4, §12 item 4).
func (c *Card) readBinary(cmd command) []byte {
	if cmd.hasData {
		return sw(swWrongLength)
	}
	if c.cur.df {
		return sw(swNoCurrentEF)
	}
	if cmd.p1&0x80 != 0 { // offsets are 15 bits (ref §2.4)
		return sw(swOffsetOutside)
	}
	off := int(cmd.p1)<<8 | int(cmd.p2)
	le := cmd.expected()
	data := c.cur.data
	if off >= len(data) {
		return sw(swOffsetOutside)
	}
	if off+le > len(data) {
		if c.shortReads {
			return dataSW(data[off:], swOK)
		}
		return sw(swWrongLe | (len(data) - off))
	}
	return dataSW(data[off:off+le], swOK)
}

// readRecord implements the applet 1.8 READ RECORD of TLV fields of the
// current file, `80 B2 first last 00`: the answer is tag‖len‖value for
// every field whose tag is in [first, last] (ref §4.1, §2.1).
func (c *Card) readRecord(cmd command) []byte {
	if cmd.hasData {
		return sw(swWrongLength)
	}
	if c.cur.df {
		return sw(swNoCurrentEF)
	}
	if cmd.p1 > cmd.p2 {
		return sw(swWrongP1P2)
	}
	var out []byte
	for _, f := range parseSimpleTLV(c.cur.data) {
		if f.tag >= cmd.p1 && f.tag <= cmd.p2 {
			out = append(out, f.raw...)
		}
	}
	if len(out) == 0 {
		return sw(swRecordNotFound)
	}
	// Le 00 asks for the whole field; longer answers chain (ref §2.5).
	if len(out) > maxShortResponse {
		c.pending = out[maxShortResponse:]
		return dataSW(out[:maxShortResponse], swBytesAvailable|len(c.pending)&0xFF)
	}
	if cmd.p3 > 0 && cmd.p3 != len(out) {
		return sw(swWrongLe | len(out)&0xFF)
	}
	return dataSW(out, swOK)
}

type tlvField struct {
	tag byte
	raw []byte // tag, length bytes and value
}

// parseSimpleTLV splits a "simplified TLV" file: one tag byte, a length made
// of FF bytes plus a final byte (ref §4.1), stopping at the zero padding.
func parseSimpleTLV(b []byte) []tlvField {
	var out []tlvField
	i := 0
	for i < len(b) {
		start := i
		tag := b[i]
		if tag == 0 && i > 0 {
			break // padding
		}
		i++
		n := 0
		for i < len(b) && b[i] == 0xFF {
			n += 255
			i++
		}
		if i >= len(b) {
			break
		}
		n += int(b[i])
		i++
		if i+n > len(b) {
			break
		}
		i += n
		out = append(out, tlvField{tag: tag, raw: b[start:i]})
	}
	return out
}
