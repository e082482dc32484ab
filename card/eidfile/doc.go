// Package eidfile holds what can be done with the files of a Belgian eID
// card without a card reader: parsing them (the simplified TLV of the
// identity and address files, GET CARD DATA, certificate files), decoding
// them into a Reading (the agent's JSON contract), and verifying them
// against the National Register's signatures and a TrustStore of Belgian
// roots.
//
// It is the pure half of package card, split off so that code which must
// build without cgo (a server verifying what an agent sent, package verify,
// cmd/eid-verify) runs exactly the checks the agent runs. It imports
// neither PC/SC nor cgo. Package card reads the files from a card and
// returns this package's types (eidfile.Reading, eidfile.Identity) and
// errors (ErrMalformed, *FormatError); it does not rename them.
//
// Section numbers in comments ("ref §9.2") point into the project's card
// reference, docs/card-reference.md.
package eidfile
