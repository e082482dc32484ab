package agent

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/eid-agent/eid-agent/internal/atomicfile"
)

// ErrUnsafeState: the state folder or the desktop token is not this
// user's own: another user's file, a symbolic link (which could point a
// write at another file, or a read at a token the attacker chose), or a
// folder of another user. The agent refuses to start rather than adopt
// it.
var ErrUnsafeState = errors.New("state file not private to this user")

// errLoose: the file is this user's but others may read it.
var errLoose = errors.New("readable by other users")

// privateFiles: whether owner and mode bits mean anything here (not on
// Windows, where the per-user profile folder's ACL protects the state).
var privateFiles = runtime.GOOS != "windows"

// privateDir creates dir if needed and makes sure it is a folder of this
// user that nobody else can enter (0700).
func privateDir(dir string, log *slog.Logger) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("state folder: %w", err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("state folder: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("%w: state folder %s is not a folder", ErrUnsafeState, dir)
	}
	if !privateFiles {
		return nil
	}
	if uid, ok := fileOwner(fi); ok && uid != os.Getuid() {
		return fmt.Errorf("%w: state folder %s belongs to uid %d", ErrUnsafeState, dir, uid)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		if err := os.Chmod(dir, 0o700); err != nil {
			return fmt.Errorf("state folder: %w", err)
		}
		log.Info("state folder made private (0700)", "path", dir, "was", fi.Mode().Perm().String())
	}
	return nil
}

// checkPrivateFile: fi (from Lstat) is a regular file of this user that
// others cannot read.
func checkPrivateFile(path string, fi fs.FileInfo) error {
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		return fmt.Errorf("%w: %s is a symbolic link; remove it", ErrUnsafeState, path)
	case !fi.Mode().IsRegular():
		return fmt.Errorf("%w: %s is not a regular file; remove it", ErrUnsafeState, path)
	case !privateFiles:
		return nil
	}
	if uid, ok := fileOwner(fi); ok && uid != os.Getuid() {
		return fmt.Errorf("%w: %s belongs to uid %d; remove it", ErrUnsafeState, path, uid)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("%w: %s is %w (%s)", ErrUnsafeState, path, errLoose, fi.Mode().Perm())
	}
	return nil
}

// readPrivate reads path after checking it, and checks the file it opened
// again (no symbolic link followed), so it is the file that was checked.
func readPrivate(path string) ([]byte, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return nil, err
	}
	if err := checkPrivateFile(path, fi); err != nil {
		return nil, err
	}
	f, err := openNoFollow(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi2, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !os.SameFile(fi, fi2) {
		return nil, fmt.Errorf("%w: %s changed while it was read", ErrUnsafeState, path)
	}
	return io.ReadAll(io.LimitReader(f, 4<<10))
}

// loadOrCreateToken returns the desktop-application token kept in path,
// creating it (0600, atomically) when missing, too short, or readable by
// other users (it may have been read: a new one replaces it). A file of
// another user or a symbolic link is ErrUnsafeState.
func loadOrCreateToken(path string, log *slog.Logger) (string, error) {
	b, err := readPrivate(path)
	switch {
	case err == nil:
		if tok := strings.TrimSpace(string(b)); len(tok) >= 32 {
			return tok, nil
		}
	case errors.Is(err, fs.ErrNotExist):
	case errors.Is(err, errLoose):
		log.Warn("the desktop token was readable by other users: replaced by a new one", "path", path)
	default:
		return "", fmt.Errorf("desktop token: %w", err)
	}
	raw := make([]byte, 32)
	rand.Read(raw)
	tok := base64.RawURLEncoding.EncodeToString(raw)
	if err := atomicfile.Write(path, []byte(tok+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("desktop token: %w", err)
	}
	return tok, nil
}

// ReadToken returns the desktop-application token of the agent whose
// state folder is stateDir (what `eid-agent status` connects with). The
// file must be this user's private regular file.
func ReadToken(stateDir string) (string, error) {
	b, err := readPrivate(filepath.Join(stateDir, TokenFile))
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}
