//go:build eidfakeclock

package clock

import (
	"fmt"
	"os"
	"strconv"
	"time"
)

// Fake reports whether this build has the fake clock.
const Fake = true

// anchorEnv holds the real instant (Unix nanoseconds) at which the fake
// clock read EID_FAKE_NOW. The first process sets it and its children
// inherit it, so a test and the binaries it starts later share one clock
// rather than each starting at EID_FAKE_NOW when it starts.
const anchorEnv = "EID_FAKE_NOW_AT"

// offset moves the wall clock to EID_FAKE_NOW at the anchor. time.Now().Add
// keeps the monotonic reading, so durations measured across Now calls
// stay exact.
var offset = func() time.Duration {
	v := os.Getenv(Env)
	if v == "" {
		return 0
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		panic(fmt.Sprintf("clock: %s=%q is not RFC 3339: %v", Env, v, err))
	}
	at := time.Now()
	if a := os.Getenv(anchorEnv); a != "" {
		n, err := strconv.ParseInt(a, 10, 64)
		if err != nil {
			panic(fmt.Sprintf("clock: %s=%q is not Unix nanoseconds", anchorEnv, a))
		}
		at = time.Unix(0, n)
	} else {
		os.Setenv(anchorEnv, strconv.FormatInt(at.UnixNano(), 10))
	}
	return t.Sub(at)
}()

func now() time.Time { return time.Now().Add(offset) }
