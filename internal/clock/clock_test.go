package clock

import (
	"os"
	"testing"
	"time"
)

// TestNow checks that Now is the wall clock in a normal build and the
// requested date under the fake-clock tag.
func TestNow(t *testing.T) {
	want := time.Now()
	if v := os.Getenv(Env); Fake && v != "" {
		var err error
		if want, err = time.Parse(time.RFC3339, v); err != nil {
			t.Fatal(err)
		}
	}
	// A test process starts well within a minute of asking.
	if d := Now().Sub(want); d < -time.Second || d > time.Minute {
		t.Fatalf("Now() = %v, want about %v", Now(), want)
	}
	if (len(BuildFlags()) == 1) != Fake {
		t.Fatalf("BuildFlags() = %v with Fake = %v", BuildFlags(), Fake)
	}
}
