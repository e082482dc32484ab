package proof

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error of this package wraps one of them, through a
// *RecordError or a *JournalError.
var (
	// ErrInvalid: a record misses a mandatory field or holds a code outside
	// the value sets.
	ErrInvalid = errors.New("invalid reading proof")
	// ErrManualReason: a manual entry without a valid reason (2 to 6), or a
	// reason on a reading that was not manual (ISI+ §3.3).
	ErrManualReason = errors.New("invalid manual-entry reason")
	// ErrLocked: another process (or another Journal in this one) holds the
	// journal open for writing.
	ErrLocked = errors.New("journal is in use by another writer")
	// ErrCorrupt: a line that is not a record lies before valid records, so
	// it is not a torn last write and cannot be dropped safely.
	ErrCorrupt = errors.New("journal is corrupt")
	// ErrReadOnly: a write on a journal opened with Options.ReadOnly.
	ErrReadOnly = errors.New("journal is open read-only")
	// ErrClosed: the journal was closed.
	ErrClosed = errors.New("journal is closed")
)

// RecordError says which field of a record is wrong.
type RecordError struct {
	Field  string // JSON name of the field
	Reason string
	Err    error // ErrInvalid or ErrManualReason
}

func (e *RecordError) Error() string { return "reading proof: " + e.Reason }
func (e *RecordError) Unwrap() error { return e.Err }

// JournalError is a failure on the journal file.
type JournalError struct {
	Op   string // "open", "append", "query", "prune", ...
	Path string
	Line int   // 1-based line of a corrupt record, 0 otherwise
	Err  error // a sentinel above, or the underlying I/O error
}

func (e *JournalError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("proof journal %s: %s: line %d: %v", e.Op, e.Path, e.Line, e.Err)
	}
	return fmt.Sprintf("proof journal %s: %s: %v", e.Op, e.Path, e.Err)
}

func (e *JournalError) Unwrap() error { return e.Err }
