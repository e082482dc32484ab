//go:build eidfakeclock

package clock

import (
	"fmt"
	"os"
	"time"
)

// Fake reports whether this build has the fake clock.
const Fake = true

// offset moves the wall clock to EID_FAKE_NOW at start. time.Now().Add
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
	return time.Until(t)
}()

func now() time.Time { return time.Now().Add(offset) }
