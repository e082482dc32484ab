package eidfile

import "crypto/sha512"

// DERSize returns the total length of the DER SEQUENCE at the start of b,
// 0 for an absent certificate (the file starts with zero padding), and -1
// when the size is not known (header incomplete, or not DER: read it all and
// let the parser report it). The card reader uses it to stop reading a
// certificate file at the end of the certificate (ref §10); Verify uses it
// to find the DER signature inside a zero-padded signature file (ref §9.2).
func DERSize(b []byte) int {
	if len(b) < 2 {
		return -1
	}
	if b[0] == 0x00 {
		return 0
	}
	if b[0] != 0x30 {
		return -1
	}
	if b[1] < 0x80 {
		return 2 + int(b[1])
	}
	n := int(b[1] & 0x7F)
	if n == 0 || n > 3 {
		return -1
	}
	if len(b) < 2+n {
		return -1
	}
	l := 0
	for _, x := range b[2 : 2+n] {
		l = l<<8 | int(x)
	}
	return 2 + n + l
}

// basicKeyHash is the hash identity tag 1A holds for file 4040 (ref §8.5).
func basicKeyHash(b []byte) []byte {
	h := sha512.Sum384(b)
	return h[:]
}
