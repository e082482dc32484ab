package eidfile

import "bytes"

// BundleFormat names version 1 of the identity bundle.
const BundleFormat = "eid-bundle:1"

// Bundle is what an agent sends a server so that the server can check the
// holder's data itself: the raw signed files, as read from the card, and
// the National Register (RRN) certificate that signed them. In JSON every
// file is standard base64 (encoding/json's []byte form); a file the card
// does not have or that was not read is absent. docs/verify.md describes the
// format; package verify checks it with Verify, the code the agent runs.
//
// The 1.8 chip authentication (Files.Challenge) is left out on purpose:
// its challenge was chosen by the agent, so it proves nothing to a server.
// A server that wants proof that a chip was present uses Web eID
// authentication (verify.Validator) in the same session.
type Bundle struct {
	Format string `json:"format"` // BundleFormat
	// CardData is the GET CARD DATA answer (ref §5): it tells the applet
	// version. Optional.
	CardData          []byte `json:"cardData,omitempty"`
	Identity          []byte `json:"identity"`          // 3F00/DF01/4031
	IdentitySignature []byte `json:"identitySignature"` // 3F00/DF01/4032
	Address           []byte `json:"address,omitempty"`
	AddressSignature  []byte `json:"addressSignature,omitempty"`
	Photo             []byte `json:"photo,omitempty"`
	// BasicKey is file 4040 of applet 1.8 cards; its hash is identity tag
	// 1A, so a 1.8 bundle without it is incomplete.
	BasicKey       []byte `json:"basicKey,omitempty"`
	RRNCertificate []byte `json:"rrnCertificate"` // 3F00/DF00/503C
	// RootCertificate (503B) is optional; when present it must be the
	// trusted root that issued the RRN certificate (ref §9.3).
	RootCertificate []byte `json:"rootCertificate,omitempty"`
}

// NewBundle packs the files an agent read into a Bundle, copying them.
// Files the read did not include (address, photo, certificates other than
// the RRN's) are left out; a nil f gives an empty bundle of the right
// format, which a verifier rejects as incomplete.
func NewBundle(f *Files) *Bundle {
	b := &Bundle{Format: BundleFormat}
	if f == nil {
		return b
	}
	b.CardData = bytes.Clone(f.CardData)
	b.Identity = bytes.Clone(f.Identity)
	b.IdentitySignature = bytes.Clone(f.IdentitySignature)
	b.Address = bytes.Clone(f.Address)
	b.AddressSignature = bytes.Clone(f.AddressSignature)
	b.Photo = bytes.Clone(f.Photo)
	b.BasicKey = bytes.Clone(f.BasicKey)
	b.RRNCertificate = bytes.Clone(f.RRNCert)
	b.RootCertificate = bytes.Clone(f.RootCert)
	return b
}

// Files unpacks the bundle for Decode and Verify. The result shares the
// bundle's memory.
func (b *Bundle) Files() *Files {
	return &Files{
		CardData:          b.CardData,
		Identity:          b.Identity,
		IdentitySignature: b.IdentitySignature,
		Address:           b.Address,
		AddressSignature:  b.AddressSignature,
		Photo:             b.Photo,
		BasicKey:          b.BasicKey,
		RRNCert:           b.RRNCertificate,
		RootCert:          b.RootCertificate,
	}
}
