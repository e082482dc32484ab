package proof

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Options of a journal.
type Options struct {
	// Retention is how long records are kept: Prune removes those read
	// before now − Retention. Zero keeps every record.
	Retention time.Duration
	// ReadOnly opens the journal for Query and Export only, without the
	// writer lock, so a billing export can run while the agent writes.
	// A last line still being written is ignored, never reported corrupt.
	ReadOnly bool
}

// Journal is the local, append-only file of reading proofs: one JSON
// record per line (JSON lines), each written with a single write on an
// O_APPEND descriptor and fsync'd before Append returns. One process at a
// time may write it: Open takes an exclusive flock(2), so a second agent
// fails with ErrLocked instead of interleaving lines.
//
// A power cut or a kill can leave at most one torn line, the last; Open
// detects it and truncates the file back to the end of the last complete
// record. A bad line followed by good records is not a torn write: Open
// refuses such a file (ErrCorrupt) and changes nothing.
type Journal struct {
	path string
	opts Options

	mu      sync.Mutex
	f       *os.File // the locked file; nil when read-only or closed
	size    int64    // bytes of complete records in f
	dropped int64    // bytes of a torn tail removed by Open
	closed  bool
}

// DefaultPath is $XDG_STATE_HOME/eid-agent/proofs.jsonl, or
// ~/.local/state/eid-agent/proofs.jsonl when XDG_STATE_HOME is unset
// (XDG Base Directory specification: state that survives restarts but is
// not configuration).
func DefaultPath() (string, error) {
	if dir := os.Getenv("XDG_STATE_HOME"); filepath.IsAbs(dir) {
		return filepath.Join(dir, "eid-agent", "proofs.jsonl"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("proof journal: no XDG_STATE_HOME and %w", err)
	}
	return filepath.Join(home, ".local", "state", "eid-agent", "proofs.jsonl"), nil
}

// Open opens or creates the journal at path (its directory is created with
// mode 0700, the file with 0600: it holds national numbers), takes the
// writer lock and drops a torn last line (see Dropped).
func Open(path string, opts Options) (*Journal, error) {
	j := &Journal{path: path, opts: opts}
	if opts.ReadOnly {
		if _, err := os.Stat(path); err != nil {
			return nil, &JournalError{Op: "open", Path: path, Err: err}
		}
		return j, nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, &JournalError{Op: "open", Path: path, Err: err}
	}
	f, err := openLocked(path)
	if err != nil {
		return nil, &JournalError{Op: "open", Path: path, Err: err}
	}
	j.f = f
	if err := j.recover(); err != nil {
		f.Close()
		return nil, err
	}
	return j, nil
}

// openLocked opens path for appending and takes the exclusive lock. The
// path may have been replaced (Prune renames a new file over it) between
// the open and the lock; then the lock is on a dead file, so try again.
func openLocked(path string) (*os.File, error) {
	for attempt := 0; ; attempt++ {
		_, statErr := os.Stat(path)
		created := errors.Is(statErr, os.ErrNotExist)
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			return nil, err
		}
		if err := lockFile(f); err != nil {
			f.Close()
			return nil, err
		}
		held, err1 := f.Stat()
		if err1 == nil && held.Mode().Perm()&0o077 != 0 {
			// The journal holds national numbers: a copy or a careless
			// chmod made it readable to others; make it private again
			// (the mode on creation protects only new files).
			if err := f.Chmod(held.Mode().Perm() &^ 0o077); err != nil {
				f.Close()
				return nil, err
			}
		}
		now, err2 := os.Stat(path)
		if err1 == nil && err2 == nil && os.SameFile(held, now) {
			if created {
				// The new directory entry must survive a power cut too.
				if err := syncDir(filepath.Dir(path)); err != nil {
					f.Close()
					return nil, err
				}
			}
			return f, nil
		}
		f.Close()
		if attempt == 10 {
			return nil, errors.New("the file keeps being replaced while opening it")
		}
	}
}

// recover scans the whole file once and truncates a torn tail.
func (j *Journal) recover() error {
	st, err := j.f.Stat()
	if err != nil {
		return &JournalError{Op: "open", Path: j.path, Err: err}
	}
	end, err := scan(io.NewSectionReader(j.f, 0, st.Size()), nil)
	if err != nil {
		return &JournalError{Op: "open", Path: j.path, Line: lineOf(err), Err: err}
	}
	j.size = end
	if end < st.Size() {
		if err := j.f.Truncate(end); err != nil {
			return &JournalError{Op: "open", Path: j.path, Err: fmt.Errorf("dropping the torn last line: %w", err)}
		}
		if err := j.f.Sync(); err != nil {
			return &JournalError{Op: "open", Path: j.path, Err: err}
		}
		j.dropped = st.Size() - end
	}
	return nil
}

// Path is the journal's file.
func (j *Journal) Path() string { return j.path }

// Dropped is the number of bytes of a torn last line that Open removed: a
// record whose Append had not returned when the process died.
func (j *Journal) Dropped() int64 { return j.dropped }

// Append validates r, gives it an ID when it has none, writes it as one
// line and fsyncs the file. It returns the record as written.
func (j *Journal) Append(r Record) (Record, error) {
	if err := r.Validate(); err != nil {
		return r, err
	}
	if r.ID == "" {
		r.ID = NewID()
	}
	r.ReadAt = r.ReadAt.Truncate(time.Second).In(Brussels)
	line, err := json.Marshal(r)
	if err != nil {
		return r, &JournalError{Op: "append", Path: j.path, Err: err}
	}
	line = append(line, '\n')

	j.mu.Lock()
	defer j.mu.Unlock()
	if err := j.writable(); err != nil {
		return r, &JournalError{Op: "append", Path: j.path, Err: err}
	}
	// One write: with O_APPEND the line lands whole at the end, and a crash
	// can only leave a prefix of it, which Open drops.
	if _, err := j.f.Write(line); err != nil {
		j.f.Truncate(j.size) // best effort: do not leave half a line before the next record
		return r, &JournalError{Op: "append", Path: j.path, Err: err}
	}
	if err := j.f.Sync(); err != nil {
		return r, &JournalError{Op: "append", Path: j.path, Err: err}
	}
	j.size += int64(len(line))
	return r, nil
}

func (j *Journal) writable() error {
	switch {
	case j.closed:
		return ErrClosed
	case j.opts.ReadOnly:
		return ErrReadOnly
	}
	return nil
}

// Query selects records; a zero field selects everything.
type Query struct {
	Since   time.Time   // read at or after
	Until   time.Time   // read before
	SSIN    string      // exactly this SSIN (punctuation ignored)
	Support SupportType // this support type
	// Caller selects the records made for this caller whose SSIN it
	// received (Record.SSINGivenTo); records without a caller (written
	// before callers were recorded) never match a non-empty Caller.
	Caller string
}

func (q Query) match(r Record) bool {
	switch {
	case !q.Since.IsZero() && r.ReadAt.Before(q.Since):
		return false
	case !q.Until.IsZero() && !r.ReadAt.Before(q.Until):
		return false
	case q.SSIN != "" && r.SSIN != digitsOnly(q.SSIN):
		return false
	case q.Support != "" && r.SupportType != q.Support:
		return false
	case q.Caller != "" && !r.SSINGivenTo(q.Caller):
		return false
	}
	return true
}

func digitsOnly(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '.' || r == '-' || r == ' ' {
			return -1
		}
		return r
	}, s)
}

// Query returns the matching records in the order they were written.
func (j *Journal) Query(q Query) ([]Record, error) {
	var out []Record
	err := j.Each(q, func(r Record) error { out = append(out, r); return nil })
	return out, err
}

// Each calls fn for every matching record, in order, without holding the
// whole journal in memory.
func (j *Journal) Each(q Query, fn func(Record) error) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return &JournalError{Op: "query", Path: j.path, Err: ErrClosed}
	}
	var src io.Reader
	if j.f != nil {
		src = io.NewSectionReader(j.f, 0, j.size)
	} else {
		f, err := os.Open(j.path)
		if err != nil {
			return &JournalError{Op: "query", Path: j.path, Err: err}
		}
		defer f.Close()
		src = f
	}
	_, err := scan(src, func(_ []byte, r Record) error {
		if q.match(r) {
			return fn(r)
		}
		return nil
	})
	if err != nil {
		var je *JournalError
		if errors.As(err, &je) {
			return err
		}
		return &JournalError{Op: "query", Path: j.path, Line: lineOf(err), Err: err}
	}
	return nil
}

// Prune removes the records read before now − Retention (nothing when
// Retention is zero) and returns how many it removed.
func (j *Journal) Prune(now time.Time) (int, error) {
	if j.opts.Retention <= 0 {
		return 0, nil
	}
	return j.PruneBefore(now.Add(-j.opts.Retention))
}

// PruneBefore removes the records read before cutoff. The kept lines are
// copied byte for byte into a new file in the same directory, which is
// fsync'd, locked and renamed over the journal: a crash leaves either the
// old file or the new one, never a mix.
func (j *Journal) PruneBefore(cutoff time.Time) (int, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	fail := func(err error) (int, error) { return 0, &JournalError{Op: "prune", Path: j.path, Err: err} }
	if err := j.writable(); err != nil {
		return fail(err)
	}
	var kept bytes.Buffer
	removed := 0
	if _, err := scan(io.NewSectionReader(j.f, 0, j.size), func(line []byte, r Record) error {
		if r.ReadAt.Before(cutoff) {
			removed++
		} else {
			kept.Write(line)
		}
		return nil
	}); err != nil {
		return fail(err)
	}
	if removed == 0 {
		return 0, nil
	}
	tmpPath := j.path + ".tmp-" + NewID()
	tmp, err := os.OpenFile(tmpPath, os.O_RDWR|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o600)
	if err != nil {
		return fail(err)
	}
	// Locked before it takes the journal's name, so no other process can
	// open and lock it in between.
	err = lockFile(tmp)
	if err == nil {
		_, err = tmp.Write(kept.Bytes())
	}
	if err == nil {
		err = tmp.Sync()
	}
	if err == nil {
		err = os.Rename(tmpPath, j.path)
	}
	if err != nil {
		tmp.Close()
		os.Remove(tmpPath)
		return fail(err)
	}
	if err := syncDir(filepath.Dir(j.path)); err != nil {
		// The rename is done; only its durability is in doubt.
		j.swap(tmp, int64(kept.Len()))
		return removed, &JournalError{Op: "prune", Path: j.path, Err: err}
	}
	j.swap(tmp, int64(kept.Len()))
	return removed, nil
}

func (j *Journal) swap(f *os.File, size int64) {
	j.f.Close()
	j.f, j.size = f, size
}

// Close releases the file and the writer lock.
func (j *Journal) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return nil
	}
	j.closed = true
	if j.f != nil {
		return j.f.Close()
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// corruptLine is the error of scan for a bad line followed by good ones.
type corruptLine struct {
	line int
	err  error
}

func (c *corruptLine) Error() string {
	return fmt.Sprintf("not a reading-proof record (%v), and complete records follow it", c.err)
}
func (c *corruptLine) Unwrap() error { return ErrCorrupt }

func lineOf(err error) int {
	var c *corruptLine
	if errors.As(err, &c) {
		return c.line
	}
	return 0
}

// scan reads JSON lines from r and calls fn (when not nil) with each
// record and its line, newline included. It returns the offset just past
// the last good line. Bad lines at the end — a last line without its
// newline, or lines that do not parse (a power cut can leave zeros where
// a record was being written) — are the torn tail: not reported, left
// beyond the returned offset. A bad line with a good one after it is
// corruption and stops the scan with a *corruptLine error.
func scan(r io.Reader, fn func(line []byte, rec Record) error) (int64, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var off, goodEnd int64
	lineNo, firstBad := 0, 0
	var badErr error
	for {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 && line[len(line)-1] == '\n' {
			lineNo++
			var rec Record
			perr := json.Unmarshal(line, &rec)
			switch {
			case perr != nil || len(bytes.TrimSpace(line)) == 0:
				if firstBad == 0 {
					firstBad, badErr = lineNo, perr
					if badErr == nil {
						badErr = errors.New("empty line")
					}
				}
			case firstBad != 0:
				return goodEnd, &corruptLine{line: firstBad, err: badErr}
			default:
				if fn != nil {
					if ferr := fn(line, rec); ferr != nil {
						return goodEnd, ferr
					}
				}
				goodEnd = off + int64(len(line))
			}
		}
		off += int64(len(line))
		if err == io.EOF {
			return goodEnd, nil
		}
		if err != nil {
			return goodEnd, err
		}
	}
}
