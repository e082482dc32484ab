//go:build !unix

package agent

import (
	"io/fs"
	"os"
)

// fileOwner is unknown here: the per-user profile folder's ACL protects
// the state folder on Windows.
func fileOwner(fs.FileInfo) (int, bool) { return 0, false }

// openNoFollow: Lstat has refused a link already.
func openNoFollow(path string) (*os.File, error) { return os.Open(path) }
