// Package virtual is a software Belgian eID card: an emulator of the BELPIC
// applet (versions 1.1, 1.7 — with the RSA or the re-keyed EC PKI — and 1.8)
// that answers APDUs the way the real card does, T=0 quirks included.
//
// It is an independent implementation of the card, written from the project's
// card reference (docs/card-reference.md, cited as "ref §n"), not from
// the reader in package card: a test that passes against it checks the reader
// against the reference, not against itself.
//
// Three parts:
//
//   - Card: the applet. New(profile) gives a powered card; Transmit takes a
//     command APDU and returns data‖SW1SW2. It keeps the file system, the
//     PIN and the security state machine of ref §8.4, and serves case-4
//     commands through 61xx / GET RESPONSE as a T=0 card does.
//   - Profile: what is on the card — ATR, GET CARD DATA bytes, files by path,
//     PIN, private keys and, for tests, the issuing PKI.
//   - Profile sources: LoadDump reads a public test-card dump in place,
//     Generate builds a complete, self-consistent card from a test PKI it
//     creates, and Preset names a few ready-made cards for the demo mode.
//
// A Card is safe for concurrent use; package vpcd plugs it into a real pcscd.
package virtual
