// Package proof records the proof of every identity reading — eID chip,
// ISI+ barcode or manual entry — the way Belgian billing (INAMI eFact
// record 52, eAttest v3, the hl7-be FHIR extension) wants it: support type,
// input type, reading date and time, the support's serial number, the
// SSIN, the manual-entry reason, and the document's validity.
//
// Records are kept in a local Journal (JSON lines, append-only, fsync'd,
// locked against a second writer, safe against a torn last line) that
// billing software can query or export as JSON lines or CSV, and that
// Prune trims to a retention period.
//
// The code lists and rules come from the ISI+ reference in
// docs/isi-and-proofs.md ("ISI+ §n"), §3.3 and §3.4.
package proof
