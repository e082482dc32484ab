package eidfile

import (
	"errors"
	"fmt"
)

// ErrMalformed: a card file could not be parsed. Every parser of this
// package, and package card when a file it read does not parse, reports it
// as a *FormatError, which matches it with errors.Is.
var ErrMalformed = errors.New("malformed card data")

// FormatError reports a card file that could not be parsed. It matches
// ErrMalformed.
type FormatError struct {
	File   string // "identity", "address", "card data", ...
	Offset int    // byte offset of the problem, -1 when not applicable
	Reason string
}

func (e *FormatError) Error() string {
	if e.Offset >= 0 {
		return fmt.Sprintf("%s file: %s (at byte %d)", e.File, e.Reason, e.Offset)
	}
	return fmt.Sprintf("%s file: %s", e.File, e.Reason)
}

func (e *FormatError) Is(target error) bool { return target == ErrMalformed }
