package agent

import (
	"errors"
	"log/slog"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/eid-agent/eid-agent/internal/lab"
)

// nobody returns the uid of another OS user (tests run as root in CI).
func nobody(t *testing.T) int {
	t.Helper()
	if os.Getuid() != 0 {
		lab.Require(t, "needs root to make files of another user")
	}
	u, err := user.Lookup("nobody")
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	return uid
}

// TestDesktopToken: the token is created 0600 in a 0700 folder; a file
// of another user or a symbolic link is refused (the agent does not
// start); a file others could read is replaced by a new token.
func TestDesktopToken(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	state := filepath.Join(t.TempDir(), "state")
	if err := os.MkdirAll(state, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := privateDir(state, log); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(state); fi.Mode().Perm() != 0o700 {
		t.Errorf("state folder %v, want 0700", fi.Mode().Perm())
	}
	path := filepath.Join(state, TokenFile)
	tok, err := loadOrCreateToken(path, log)
	if err != nil || len(tok) < 32 {
		t.Fatalf("token %q: %v", tok, err)
	}
	if fi, _ := os.Lstat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("token file %v, want 0600", fi.Mode().Perm())
	}
	if again, err := loadOrCreateToken(path, log); err != nil || again != tok {
		t.Errorf("second start: %q %v, want the same token", again, err)
	}
	if got, err := ReadToken(state); err != nil || got != tok {
		t.Errorf("ReadToken: %q %v", got, err)
	}

	// Readable by others: it may have been read, so a new one.
	os.Chmod(path, 0o644)
	fresh, err := loadOrCreateToken(path, log)
	if err != nil || fresh == tok {
		t.Errorf("loose token: %q %v, want a new token", fresh, err)
	}
	if fi, _ := os.Lstat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("replaced token file %v", fi.Mode().Perm())
	}

	// A symbolic link (to a token an attacker chose, or to a file a
	// write would clobber) is refused, and left alone.
	planted := filepath.Join(t.TempDir(), "planted")
	os.WriteFile(planted, []byte("attacker-chosen-token-attacker-chosen-token\n"), 0o600)
	os.Remove(path)
	if err := os.Symlink(planted, path); err != nil {
		t.Fatal(err)
	}
	if _, err := loadOrCreateToken(path, log); !errors.Is(err, ErrUnsafeState) {
		t.Errorf("symbolic link: %v, want ErrUnsafeState", err)
	}
	if _, err := ReadToken(state); !errors.Is(err, ErrUnsafeState) {
		t.Errorf("ReadToken through a link: %v", err)
	}
	if b, _ := os.ReadFile(planted); string(b) != "attacker-chosen-token-attacker-chosen-token\n" {
		t.Error("the link's target was changed")
	}
	os.Remove(path)

	// Another user's file: refused.
	uid := nobody(t)
	os.WriteFile(path, []byte("another-users-token-another-users-token\n"), 0o600)
	if err := os.Chown(path, uid, -1); err != nil {
		t.Fatal(err)
	}
	if _, err := loadOrCreateToken(path, log); !errors.Is(err, ErrUnsafeState) {
		t.Errorf("another user's file: %v, want ErrUnsafeState", err)
	}
	// Another user's state folder: refused.
	if err := os.Chown(state, uid, -1); err != nil {
		t.Fatal(err)
	}
	if err := privateDir(state, log); !errors.Is(err, ErrUnsafeState) {
		t.Errorf("another user's folder: %v, want ErrUnsafeState", err)
	}
}
