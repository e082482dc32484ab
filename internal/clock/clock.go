// Package clock is where eid-agent learns the date.
//
// Everything the calendar decides goes through Now: certificate and card
// validity, the cards the simulator generates, reading-proof timestamps,
// journal retention, nonce lifetimes, the loopback CA. Timeouts, deadlines
// and rate limits measure durations and keep using time.Now directly.
//
// A normal build returns time.Now. A build with the tag eidfakeclock reads
// EID_FAKE_NOW (RFC 3339, for example 2035-12-31T23:59:00+01:00) once at
// start and runs the wall clock from that instant on, so that the whole
// suite, the binaries the tests build included, can be run "on" another
// day. The first process anchors the fake instant to a real one and
// passes the anchor on in its environment (EID_FAKE_NOW_AT), so a test and
// the agent it starts a minute later read the same time (scripts/test does it for three dates; docs/testing.md). Production
// binaries are never built with the tag, so no environment variable can
// move their clock.
package clock

import "time"

// Now returns the current time (see the package comment).
func Now() time.Time { return now() }

// BuildFlags returns the `go build` flags that give a binary built by a
// test the same clock as the test itself: the fake-clock tag when the test
// runs with it, nothing otherwise. The binary reads EID_FAKE_NOW from the
// environment it inherits.
func BuildFlags() []string {
	if Fake {
		return []string{"-tags=" + Tag}
	}
	return nil
}

// Tag is the build tag that enables the fake clock.
const Tag = "eidfakeclock"

// Env is the environment variable the fake clock reads.
const Env = "EID_FAKE_NOW"

// GoBuild returns the arguments of `go build` with BuildFlags and then
// args, for tests that build a binary: exec.Command("go", GoBuild("-o", bin, ".")...).
func GoBuild(args ...string) []string {
	return append(append([]string{"build"}, BuildFlags()...), args...)
}
