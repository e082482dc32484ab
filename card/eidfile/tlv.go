package eidfile

import "fmt"

// Field is one element of the "simplified TLV" of the identity and address
// files (ref §4.1).
type Field struct {
	Tag   byte
	Value []byte
}

// ParseTLV splits an identity or address file into its fields; file names
// the file in errors ("identity", "address").
//
// The encoding (ref §4.1): one tag byte, a length, the value. A length of
// 255 or more is a run of FF bytes and a final byte, worth 255 per FF plus
// the final byte (FF 0A = 265). Fields may be empty (length 0). A leading
// tag 00 is the file structure version (specified for 1.8, ref §4.2). The
// zero padding of the address file ends the list: parsing stops at a tag 00
// after the first field, as eid-mw does, or when only zeros are left.
//
// Tags must be strictly ascending, as the applet manual says they are
// (ref §4.1): a repeated or out-of-order tag would make it ambiguous which
// value the National Register meant, so it is reported instead of guessed.
// A value running past the end of the data is reported too. Errors are
// *FormatError (matching ErrMalformed). The values share b's memory.
func ParseTLV(b []byte, file string) ([]Field, error) {
	var fields []Field
	end := len(TrimTrailingZeros(b))
	for i := 0; i < end; {
		if i > 0 && b[i] == 0x00 {
			break
		}
		start, tag := i, b[i]
		i++
		n := 0
		for {
			if i >= len(b) {
				return nil, &FormatError{File: file, Offset: start, Reason: fmt.Sprintf("tag %02X: length missing", tag)}
			}
			l := b[i]
			i++
			n += int(l)
			if l != 0xFF {
				break
			}
		}
		if n > len(b)-i {
			return nil, &FormatError{File: file, Offset: start, Reason: fmt.Sprintf("tag %02X: value of %d bytes runs past the end of the file (%d left)", tag, n, len(b)-i)}
		}
		if len(fields) > 0 && tag <= fields[len(fields)-1].Tag {
			return nil, &FormatError{File: file, Offset: start, Reason: fmt.Sprintf("tag %02X after tag %02X: tags must be ascending", tag, fields[len(fields)-1].Tag)}
		}
		fields = append(fields, Field{Tag: tag, Value: b[i : i+n : i+n]})
		i += n
	}
	return fields, nil
}

// EncodeTLV is the inverse of ParseTLV: lengths of 255 or more are written
// with FF continuation bytes. ParseTLV(EncodeTLV(f)) gives f back when the
// tags of f are strictly ascending, except for the one encoding ParseTLV
// cannot tell from padding: a lone tag 00 whose value is all zeros.
func EncodeTLV(fields []Field) []byte {
	var out []byte
	for _, f := range fields {
		out = append(out, f.Tag)
		n := len(f.Value)
		for ; n >= 0xFF; n -= 0xFF {
			out = append(out, 0xFF)
		}
		out = append(out, byte(n))
		out = append(out, f.Value...)
	}
	return out
}
