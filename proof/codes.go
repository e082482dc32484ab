package proof

import (
	"fmt"
	"strings"
)

// The code lists of the identity-reading fields that INAMI billing (eFact
// record 52, eAttest v3, the hl7-be FHIR extension) carries per invoiced
// item. The values are the codes of those lists, so a billing program can
// copy them as they are; the meanings come from TDM3's public specification
// (docs/isi-and-proofs.md, "ISI+ §3.3").

// SupportType is the document ("medium") that was read.
type SupportType string

// Current value set of NIHDI-ID-DOC-MEDIA-TYPE (ISI+ §3.3). The historic
// values 3 (Kids-ID until 2016), 5 and 6 (SIS card) are not accepted: they
// are no longer in the hl7-be value set.
const (
	SupportEID           SupportType = "1" // Belgian eID, Kids-ID included since 2017
	SupportForeignerCard SupportType = "2" // electronic foreigner card
	SupportISIPlus       SupportType = "4" // ISI+ card (plastic or MyGov)
	SupportSticker       SupportType = "7" // mutuality sticker with barcode
	SupportCertificate   SupportType = "8" // certificate of social insured
	SupportLossTheft     SupportType = "9" // loss/theft certificate of a Belgian eID
	SupportItsme         SupportType = "A" // itsme®
)

var supportNames = map[SupportType]string{
	SupportEID:           "Belgian eID",
	SupportForeignerCard: "electronic foreigner card",
	SupportISIPlus:       "ISI+ card",
	SupportSticker:       "mutuality sticker",
	SupportCertificate:   "certificate of social insured",
	SupportLossTheft:     "loss/theft certificate",
	SupportItsme:         "itsme",
}

// Valid reports whether s is in the current value set.
func (s SupportType) Valid() bool { _, ok := supportNames[s]; return ok }

// Name is the English label of the code.
func (s SupportType) Name() string {
	if n, ok := supportNames[s]; ok {
		return n
	}
	return "unknown"
}

// serialRequired tells whether billing wants the support's serial number:
// TDM3 requires it for every support, manual entry included, except the
// sticker and the two certificates (ISI+ §3.3).
func (s SupportType) serialRequired() bool {
	return s != SupportSticker && s != SupportCertificate && s != SupportLossTheft
}

// InputType is how the data was captured.
type InputType string

// Value set of NIHDI-ID-DOC-INPUT-TYPE (ISI+ §3.3).
const (
	InputChip    InputType = "1" // chip read
	InputBarcode InputType = "2" // barcode read (linear or DataMatrix)
	InputQR      InputType = "3" // QR code read
	InputManual  InputType = "4" // typed; a ManualReason is required
	InputItsme   InputType = "A" // electronic input via itsme®
)

var inputNames = map[InputType]string{
	InputChip:    "chip",
	InputBarcode: "barcode",
	InputQR:      "QR code",
	InputManual:  "manual entry",
	InputItsme:   "itsme",
}

// Valid reports whether i is in the value set.
func (i InputType) Valid() bool { _, ok := inputNames[i]; return ok }

// Name is the English label of the code.
func (i InputType) Name() string {
	if n, ok := inputNames[i]; ok {
		return n
	}
	return "unknown"
}

// ManualReason justifies a manual entry (NIHDI-ID-DOC-MANUAL-INPUT-
// JUSTIFICATION, ISI+ §3.3). It is empty for any other input type.
type ManualReason string

const (
	// ReasonNotApplicable (1) is the code's "not applicable": it is what a
	// billing file carries when the input was not manual, so it can never
	// justify a manual entry.
	ReasonNotApplicable  ManualReason = "1"
	ReasonNoChip         ManualReason = "2" // identity document without chip (the plastic ISI+)
	ReasonNoReader       ManualReason = "3" // card reader unavailable
	ReasonDeferredNoDoc  ManualReason = "4" // deferred verification: no valid document
	ReasonDeferredForgot ManualReason = "5" // deferred verification: forgot to read
	ReasonNoInterconnect ManualReason = "6" // no interconnectivity between software packages
)

var reasonNames = map[ManualReason]string{
	ReasonNotApplicable:  "not applicable",
	ReasonNoChip:         "document without chip",
	ReasonNoReader:       "card reader unavailable",
	ReasonDeferredNoDoc:  "deferred verification (no valid document)",
	ReasonDeferredForgot: "deferred verification (forgot to read)",
	ReasonNoInterconnect: "no interconnectivity between software packages",
}

// Name is the English label of the code.
func (m ManualReason) Name() string {
	if n, ok := reasonNames[m]; ok {
		return n
	}
	return "unknown"
}

// ParseManualReason accepts the code of a reason that can justify a manual
// entry: 2 to 6. The error wraps ErrManualReason.
func ParseManualReason(s string) (ManualReason, error) {
	m := ManualReason(strings.TrimSpace(s))
	if m == ReasonNotApplicable {
		return "", fmt.Errorf("%w: code 1 (not applicable) cannot justify a manual entry; use 2 to 6", ErrManualReason)
	}
	if _, ok := reasonNames[m]; !ok {
		return "", fmt.Errorf("%w: %q is not a manual-entry reason code (2 to 6: %s)", ErrManualReason, s, ReasonList())
	}
	return m, nil
}

// ReasonList describes the codes 2 to 6 for help texts.
func ReasonList() string {
	var parts []string
	for _, m := range []ManualReason{ReasonNoChip, ReasonNoReader, ReasonDeferredNoDoc, ReasonDeferredForgot, ReasonNoInterconnect} {
		parts = append(parts, string(m)+" = "+m.Name())
	}
	return strings.Join(parts, ", ")
}

// ParseSupportType accepts a code of the current value set.
func ParseSupportType(s string) (SupportType, error) {
	t := SupportType(strings.ToUpper(strings.TrimSpace(s)))
	if !t.Valid() {
		return "", fmt.Errorf("%w: unknown support type %q (1, 2, 4, 7, 8, 9 or A)", ErrInvalid, s)
	}
	return t, nil
}

// supportForDocument maps the eID document type (identity tag 0F, see
// card/eidfile codes.go) to the support type. Belgian and Kids-ID cards are
// one support since 2017 (ISI+ §0 point 5); every foreigner card, the kids'
// foreigner cards included, is an electronic foreigner card. Bootstrap and
// habilitation cards identify no patient: they get no support type, and a
// record built from them is refused by Validate.
func supportForDocument(docType int) SupportType {
	switch {
	case docType == 1 || docType == 6:
		return SupportEID
	case docType >= 11 && docType <= 69:
		return SupportForeignerCard
	}
	return ""
}
