// Package ssin validates Belgian social security identification numbers
// (SSIN, INSZ/NISS): the National Register number ("NN") printed on the eID
// and the BIS number given to people who are not in the National Register.
// It also checks the shape and check digits of Belgian eID card numbers.
//
// The rules come from the project's references: docs/card-reference.md §4.5
// ("ref §4.5") and the ISI+ reference in docs/isi-and-proofs.md
// ("ISI+ §4"). The package has no dependency on the rest of the module so
// that other tools (billing exports, barcode input) can use it.
package ssin
