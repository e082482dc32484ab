//go:build !eidfakeclock

package clock

import "time"

// Fake reports whether this build has the fake clock.
const Fake = false

func now() time.Time { return time.Now() }
