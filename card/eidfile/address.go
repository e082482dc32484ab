package eidfile

// ParseAddress decodes the address file 4033 (ref §4.3): street and number
// (tag 01), zip code (02) and municipality (03). The zero padding up to the
// file's fixed size is ignored, and so is a leading structure-version tag 00
// or any tag a later applet may add.
func ParseAddress(b []byte) (Address, error) {
	fields, err := ParseTLV(b, "address")
	if err != nil {
		return Address{}, err
	}
	var a Address
	for _, f := range fields {
		switch f.Tag {
		case 0x01:
			a.StreetAndNumber = string(f.Value)
		case 0x02:
			a.Zip = string(f.Value)
		case 0x03:
			a.Municipality = string(f.Value)
		}
	}
	return a, nil
}

// TrimTrailingZeros returns b without its trailing zero bytes: the address
// file as the National Register signed it (ref §9.1). It strips only the
// end; cutting at the first zero, as commons-eid does, would break on a
// leading structure-version tag 00 or an empty field (ref §4.1). The result
// shares b's memory.
func TrimTrailingZeros(b []byte) []byte {
	n := len(b)
	for n > 0 && b[n-1] == 0x00 {
		n--
	}
	return b[:n]
}
