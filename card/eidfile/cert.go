package eidfile

import "fmt"

// CertificateDER returns the DER certificate at the start of a certificate
// file (5038–503C), without the zero padding the card keeps after it
// (ref §3.1): its size is taken from the outer SEQUENCE header, as the
// minidriver and eid-mw do (ref §9.3). An empty or all-zero file is a
// certificate the card does not have — a Kids-ID may lack the
// authentication certificate, a citizen the signing one (ref §9.4) — and
// gives nil, nil. Anything else that is not a complete DER SEQUENCE is a
// *FormatError. The result shares b's memory.
func CertificateDER(b []byte) ([]byte, error) {
	return certificateDER(b, "certificate")
}

func certificateDER(b []byte, file string) ([]byte, error) {
	if len(TrimTrailingZeros(b)) == 0 {
		return nil, nil
	}
	if b[0] != 0x30 {
		return nil, &FormatError{File: file, Offset: 0, Reason: fmt.Sprintf("starts with %02X, not a DER SEQUENCE (30)", b[0])}
	}
	if len(b) < 2 {
		return nil, &FormatError{File: file, Offset: 1, Reason: "DER length missing"}
	}
	header, n := 2, int(b[1])
	if b[1] >= 0x80 {
		// Long form: the low bits count the length bytes that follow.
		// Indefinite length (80) is not DER; more than 3 bytes would exceed
		// any file the card can hold (ref §2.4: 15-bit offsets).
		k := int(b[1] & 0x7F)
		if k == 0 || k > 3 {
			return nil, &FormatError{File: file, Offset: 1, Reason: fmt.Sprintf("DER length byte %02X not supported", b[1])}
		}
		header += k
		if len(b) < header {
			return nil, &FormatError{File: file, Offset: 2, Reason: "DER length truncated"}
		}
		n = 0
		for _, x := range b[2:header] {
			n = n<<8 | int(x)
		}
	}
	if n > len(b)-header {
		return nil, &FormatError{File: file, Offset: header, Reason: fmt.Sprintf("certificate of %d bytes truncated to %d", header+n, len(b))}
	}
	return b[: header+n : header+n], nil
}
