//go:build !windows

package proof

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// lockFile takes the writer lock: an exclusive flock(2) on the open file,
// released by the kernel when the file is closed or the process dies, so a
// killed agent never leaves a stale lock behind.
func lockFile(f *os.File) error {
	err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
	if errors.Is(err, unix.EWOULDBLOCK) {
		return ErrLocked
	}
	return err
}
