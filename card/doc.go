// Package card reads Belgian eID cards (the BELPIC applet, versions 1.1, 1.7
// and 1.8: citizen cards, Kids-ID and foreigner cards) and verifies what it
// reads.
//
// The package has three layers, each usable on its own:
//
//   - Files and Decode: the card's raw files, and their parsing into a
//     Reading (the JSON contract of the agent). Pure functions; the public
//     test-card dumps go through them without any card. They live in
//     package card/eidfile (no PC/SC, no cgo); Card.Read returns its types.
//   - Verify and TrustStore: the National Register (RRN) signatures over the
//     identity and address files, the photo and basic-key hashes, and the
//     RRN certificate's chain to a Belgian root.
//   - Card: the APDU conversation with a card over a Transport (PC/SC, or a
//     virtual card in-process), with the T=0 quirks of the applet handled.
//
// Section numbers in comments ("ref §2.4") point into the project's card
// reference, docs/card-reference.md, which cites the public sources.
package card
