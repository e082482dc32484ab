package lab

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// SharedTrust returns the folder of the Belgian production PKI's public
// certificates (roots, not-production/ lookalikes, chain/ samples):
// EID_SHARED_TRUST when set, else trust/belgium beside the shared test
// data (EID_SHARED_TESTDATA's parent, or ../shared next to the
// repository). A missing folder skips the test, or fails it in CI.
func SharedTrust(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("EID_SHARED_TRUST")
	if dir == "" {
		if td := os.Getenv("EID_SHARED_TESTDATA"); td != "" {
			dir = filepath.Join(td, "..", "trust", "belgium")
		} else {
			_, file, _, _ := runtime.Caller(0)
			dir = filepath.Join(filepath.Dir(file), "..", "..", "..", "shared", "trust", "belgium")
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "chain")); err != nil {
		Require(t, "shared trust material not found at "+dir+" (set EID_SHARED_TRUST)")
	}
	return dir
}
