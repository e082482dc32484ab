// Package lab connects tests to the PC/SC test lab (scripts/pcsc-lab): a real
// pcscd whose vpcd virtual readers accept virtual cards over TCP.
//
// Tests that need the lab call Slots. Outside CI a missing lab skips the
// test; in CI (CI=true) it fails it, because a skipped integration test there
// would hide that the real path was never exercised.
package lab

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Slot is one vpcd slot: the PC/SC reader name and the TCP address a virtual
// card dials to be inserted in that reader.
type Slot struct {
	Reader string
	Addr   string
}

// Slots returns the lab's slots from EID_LAB_SLOTS
// ("reader=host:port;reader=host:port"), as printed by `pcsc-lab env`.
func Slots(t testing.TB) []Slot {
	t.Helper()
	env := os.Getenv("EID_LAB_SLOTS")
	if env == "" {
		Require(t, "the PC/SC lab is not running (scripts/pcsc-lab start; eval \"$(scripts/pcsc-lab env)\")")
		return nil
	}
	var slots []Slot
	for _, part := range strings.Split(env, ";") {
		reader, addr, ok := strings.Cut(part, "=")
		if !ok {
			t.Fatalf("EID_LAB_SLOTS: bad entry %q", part)
		}
		slots = append(slots, Slot{Reader: reader, Addr: addr})
	}
	return slots
}

// Require skips the test with reason, or fails it when running in CI.
func Require(t testing.TB, reason string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("required in CI: %s", reason)
	}
	t.Skip(reason)
}

// SharedTestdata returns the path of the shared test data
// (../shared/testdata beside the repository), failing in CI when absent.
func SharedTestdata(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("EID_SHARED_TESTDATA")
	if dir == "" {
		_, file, _, _ := runtime.Caller(0)
		dir = filepath.Join(filepath.Dir(file), "..", "..", "..", "shared", "testdata")
	}
	if _, err := os.Stat(filepath.Join(dir, "cards")); err != nil {
		Require(t, "shared test data not found at "+dir+" (set EID_SHARED_TESTDATA)")
	}
	return dir
}

// RestartService stops the lab's pcscd and, after pause, starts it again
// with the same readers, through scripts/pcsc-lab. For tests of recovery
// from a PC/SC service restart; the lab is restarted even if the test fails.
func RestartService(t testing.TB, pause time.Duration) {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	script := filepath.Join(filepath.Dir(file), "..", "..", "scripts", "pcsc-lab")
	// Restart with as many readers as the lab has now (its own record),
	// not as many as this test was given: a test handed a subset of the
	// slots must not shrink the lab under everyone else.
	entries := strconv.Itoa((len(Slots(t)) + 1) / 2)
	dir := os.Getenv("PCSC_LAB_DIR")
	if dir == "" {
		dir = "/tmp/eid-agent-pcsc-lab"
	}
	if b, err := os.ReadFile(filepath.Join(dir, "slots")); err == nil {
		entries = strconv.Itoa((strings.Count(string(b), ";") + 2) / 2)
	}
	if out, err := exec.Command("bash", script, "stop").CombinedOutput(); err != nil {
		t.Fatalf("pcsc-lab stop: %v\n%s", err, out)
	}
	time.Sleep(pause)
	if out, err := exec.Command("bash", script, "start", entries).CombinedOutput(); err != nil {
		t.Fatalf("pcsc-lab start: %v\n%s", err, out)
	}
}
