// Package audit is the agent's audit journal: one JSON line per read,
// authentication and signature, appended and synced before the operation's
// answer leaves the agent, rotated by size.
//
// It records who asked (the origin or desktop application), what, on which
// reader and with what outcome, and identifies the card by a keyed hash of
// its card number rather than the number itself: entries of one card can be
// linked on this machine, and someone holding the card (and this machine's
// key) can confirm an entry, but the journal does not hand out card
// numbers, which a plain hash of a 12-digit number would (it is quickly
// brute-forced).
package audit

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/eid-agent/eid-agent/internal/clock"
)

// Entry is one audited operation. It holds no personal data.
type Entry struct {
	Time      time.Time `json:"time"`
	Caller    string    `json:"caller"`           // web origin, "app:NAME" or "cli"
	Operation string    `json:"op"`               // read, authenticate, sign, signing-certificate, reading-proof, isi, proofs.list, proofs-all (a refusal)
	Fields    []string  `json:"fields,omitempty"` // for read and reading-proof: every member whose data was given out
	Reader    string    `json:"reader,omitempty"`
	Card      string    `json:"card,omitempty"` // CardHash of the card number
	// For proofs.list: whose records ("own" or "all"), the filters by
	// name (with their value when it is not personal data: never the
	// SSIN), and how many records were returned.
	Scope   string   `json:"scope,omitempty"`
	Filters []string `json:"filters,omitempty"`
	Count   *int     `json:"count,omitempty"`
	Outcome string   `json:"outcome"` // "ok", or an error code (CONSENT_DENIED, PIN_BLOCKED, CARD_REMOVED, ...)
}

// Options of a Log.
type Options struct {
	MaxSize int64 // bytes before rotation (default 10 MiB)
	Keep    int   // rotated files kept: path.1 ... path.Keep (default 5)
	// KeyFile holds the per-install hash key (created, 0600, when
	// missing); default path + ".key".
	KeyFile string
	// Sync makes each entry durable before Write returns (default on;
	// tests of rotation may turn it off).
	NoSync bool
}

// ErrClosed: the log was closed.
var ErrClosed = errors.New("audit: journal closed")

// Log is an open journal. Safe for concurrent use.
type Log struct {
	path string
	opt  Options
	key  []byte

	mu   sync.Mutex
	f    *os.File
	size int64
}

// Open opens (creating) the journal at path. A last line cut short by a
// crash is removed, so every line of the file is a whole entry.
func Open(path string, opt Options) (*Log, error) {
	if opt.MaxSize <= 0 {
		opt.MaxSize = 10 << 20
	}
	if opt.Keep <= 0 {
		opt.Keep = 5
	}
	if opt.KeyFile == "" {
		opt.KeyFile = path + ".key"
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	key, err := loadKey(opt.KeyFile)
	if err != nil {
		return nil, err
	}
	l := &Log{path: path, opt: opt, key: key}
	if err := l.open(); err != nil {
		return nil, err
	}
	return l, nil
}

func loadKey(name string) ([]byte, error) {
	b, err := os.ReadFile(name)
	if fi, serr := os.Stat(name); err == nil && serr == nil && fi.Mode().Perm()&0o077 != 0 {
		// The key proves the journal's chain: others must not read it.
		if err := os.Chmod(name, fi.Mode().Perm()&^0o077); err != nil {
			return nil, fmt.Errorf("audit: %w", err)
		}
	}
	if err == nil && len(b) == 64 {
		k, err := hex.DecodeString(string(b))
		if err == nil {
			return k, nil
		}
	}
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("audit: key file %s is damaged; move it away to start a new key (old entries then no longer link to new ones)", name)
	}
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	_, err = f.WriteString(hex.EncodeToString(k))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	return k, nil
}

func (l *Log) open() error {
	f, err := os.OpenFile(l.path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	// A journal others could read (a careless chmod, a copy) is made
	// private again: the mode on creation protects only new files.
	if err := keepPrivate(f); err != nil {
		f.Close()
		return fmt.Errorf("audit: %s: %w", l.path, err)
	}
	size, err := repairTail(f)
	if err != nil {
		f.Close()
		return fmt.Errorf("audit: %s: %w", l.path, err)
	}
	l.f, l.size = f, size
	return nil
}

// repairTail truncates a last line without its newline (an append cut by
// a crash or power loss) and returns the file's size.
func repairTail(f *os.File) (int64, error) {
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	size := st.Size()
	if size == 0 {
		return 0, nil
	}
	// Look back for the last newline, a block at a time.
	const block = 4096
	buf := make([]byte, block)
	end := size
	for end > 0 {
		start := max(end-block, 0)
		n, err := f.ReadAt(buf[:end-start], start)
		if err != nil && err != io.EOF {
			return 0, err
		}
		if i := bytes.LastIndexByte(buf[:n], '\n'); i >= 0 {
			keep := start + int64(i) + 1
			if keep != size {
				if err := f.Truncate(keep); err != nil {
					return 0, err
				}
			}
			return keep, nil
		}
		end = start
	}
	if err := f.Truncate(0); err != nil {
		return 0, err
	}
	return 0, nil
}

// CardHash is the journal's identifier of a card number: HMAC-SHA-256
// under the install's key, hex, 128 bits.
func (l *Log) CardHash(cardNumber string) string {
	if cardNumber == "" {
		return ""
	}
	m := hmac.New(sha256.New, l.key)
	m.Write([]byte(cardNumber))
	return hex.EncodeToString(m.Sum(nil)[:16])
}

// Write appends e (Time set to now when zero) as one line, in one write
// call, synced to disk unless NoSync.
func (l *Log) Write(e Entry) error {
	if e.Time.IsZero() {
		e.Time = clock.Now()
	}
	e.Time = e.Time.UTC().Round(time.Millisecond)
	line, err := json.Marshal(e)
	if err != nil {
		return err
	}
	line = append(line, '\n')
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return ErrClosed
	}
	if l.size > 0 && l.size+int64(len(line)) > l.opt.MaxSize {
		if err := l.rotate(); err != nil {
			return err
		}
	}
	n, err := l.f.Write(line)
	l.size += int64(n)
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	if !l.opt.NoSync {
		if err := l.f.Sync(); err != nil {
			return fmt.Errorf("audit: %w", err)
		}
	}
	return nil
}

// rotate shifts path.N-1 to path.N ... path to path.1 and starts a new
// file. The oldest beyond Keep is deleted.
func (l *Log) rotate() error {
	if err := l.f.Close(); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	l.f = nil
	os.Remove(fmt.Sprintf("%s.%d", l.path, l.opt.Keep))
	for i := l.opt.Keep - 1; i >= 1; i-- {
		os.Rename(fmt.Sprintf("%s.%d", l.path, i), fmt.Sprintf("%s.%d", l.path, i+1))
	}
	if err := os.Rename(l.path, l.path+".1"); err != nil {
		return fmt.Errorf("audit: rotate: %w", err)
	}
	return l.open()
}

// Close closes the journal; later writes fail with ErrClosed.
func (l *Log) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}

// ReadAll returns the entries of one journal file, oldest first; for
// tests and `eid-agent audit` style tooling.
func ReadAll(path string) ([]Entry, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []Entry
	for i, line := range bytes.Split(bytes.TrimSuffix(b, []byte("\n")), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var e Entry
		if err := json.Unmarshal(line, &e); err != nil {
			return out, fmt.Errorf("audit: %s line %d: %w", path, i+1, err)
		}
		out = append(out, e)
	}
	return out, nil
}

// keepPrivate takes away group and other permissions from f.
func keepPrivate(f *os.File) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if m := fi.Mode().Perm(); m&0o077 != 0 {
		return f.Chmod(m &^ 0o077)
	}
	return nil
}
