package isi

import "fmt"

// framer cuts a byte stream into scans at CR, LF or CRLF (a serial
// scanner's usual suffix; empty lines between terminators are skipped). A
// scan longer than max is reported once as ErrTooLong and discarded up to
// the next terminator, so one runaway scan does not spoil the next.
type framer struct {
	max      int
	cur      []byte
	overflow bool
}

// feed consumes p and calls emit for each complete scan or error; it stops
// and returns false when emit does.
func (f *framer) feed(p []byte, emit func(scan string, err error) bool) bool {
	for _, c := range p {
		if c == '\r' || c == '\n' {
			switch {
			case f.overflow:
				f.overflow = false
				if !emit("", &ScanError{Reason: fmt.Sprintf("a scan longer than %d bytes was discarded", f.max), Err: ErrTooLong}) {
					return false
				}
			case len(f.cur) > 0:
				scan := string(f.cur)
				f.cur = f.cur[:0]
				if !emit(scan, nil) {
					return false
				}
			}
			continue
		}
		if f.overflow {
			continue
		}
		if len(f.cur) == f.max {
			f.overflow = true
			f.cur = f.cur[:0]
			continue
		}
		f.cur = append(f.cur, c)
	}
	return true
}
