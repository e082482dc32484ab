// Package isi reads the ISI+ card, the social identity card Belgian
// mutualities give children under 12 and insured people without a Belgian
// eID ("ISI+ §n" cites the ISI+ reference in docs/isi-and-proofs.md).
//
// The ISI+ card has no chip holding personal data (ISI+ §1.2): PC/SC never
// sees it. Its SSIN is printed on the front and encoded in a barcode and a
// DataMatrix on the back, whose payload format is not public (ISI+ §1.3).
// So the agent takes it in three ways, all ending in the same validated
// *Result:
//
//   - a scanner in keyboard mode types the code into the web page, which
//     hands the raw string to the agent: ParseScan;
//   - a scanner in serial / USB-CDC mode is read directly: ReadDevice,
//     then ParseScan on each scan;
//   - the operator types the data, with the reason the law requires for a
//     manual entry: Manual.
//
// Result.Proof turns the result into the reading-proof record of package
// proof (support type 4, input barcode, QR or manual).
package isi
