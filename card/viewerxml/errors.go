package viewerxml

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error Marshal and Unmarshal return is a *FieldError
// that matches exactly one of them with errors.Is.
var (
	// ErrFormat: the input is not an eID Viewer file this package can read
	// (not well-formed XML, no <eid> root, a required attribute missing, or
	// a coded value outside the format's vocabulary).
	ErrFormat = errors.New("malformed eID Viewer file")
	// ErrUnrepresentable: the Reading holds a value, or lacks one, that the
	// eID Viewer format (eidv4.xsd) cannot carry.
	ErrUnrepresentable = errors.New("reading not representable as an eID Viewer file")
)

// FieldError says which part of the document (or of the Reading) is at
// fault, so a user can be told more than "bad file".
type FieldError struct {
	// Path names the XML node in the viewer's vocabulary, e.g.
	// "identity/@dateofbirth" or "certificates/root"; empty for the document
	// as a whole.
	Path   string
	Reason string
	Err    error // ErrFormat or ErrUnrepresentable
}

func (e *FieldError) Error() string {
	if e.Path == "" {
		return fmt.Sprintf("%v: %s", e.Err, e.Reason)
	}
	return fmt.Sprintf("%v: %s: %s", e.Err, e.Path, e.Reason)
}

func (e *FieldError) Unwrap() error { return e.Err }

func formatErr(path, format string, args ...any) error {
	return &FieldError{Path: path, Reason: fmt.Sprintf(format, args...), Err: ErrFormat}
}

func unrepresentable(path, format string, args ...any) error {
	return &FieldError{Path: path, Reason: fmt.Sprintf(format, args...), Err: ErrUnrepresentable}
}
