package eidfile

// PhotoHash returns the photo hash the National Register signed in the
// identity file (tag 11, ref §4.2), or nil when the file has none or does
// not parse.
func PhotoHash(identity []byte) []byte {
	fields, err := ParseTLV(identity, "identity")
	if err != nil {
		return nil
	}
	return tagValue(fields, 0x11)
}

// PhotoMatches reports whether photo hashes to want (SHA-1, SHA-256 or
// SHA-384 by the hash's length).
func PhotoMatches(want, photo []byte) bool { return checkHash(want, photo) == nil }
