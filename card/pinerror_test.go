package card

import (
	"errors"
	"testing"
)

// TestPINErrorMessage: what the CLI prints and the tests of every path
// match, and which counts are "blocked".
func TestPINErrorMessage(t *testing.T) {
	for _, tc := range []struct {
		retries int
		msg     string
		blocked bool
	}{
		{-1, "wrong PIN", false},
		{0, "wrong PIN (no tries left: the PIN is blocked)", true},
		{1, "wrong PIN (1 try left)", false},
		{2, "wrong PIN (2 tries left)", false},
	} {
		err := error(&PINError{Retries: tc.retries})
		if err.Error() != tc.msg || errors.Is(err, ErrPINBlocked) != tc.blocked {
			t.Errorf("Retries %d: %q, blocked %v", tc.retries, err, errors.Is(err, ErrPINBlocked))
		}
	}
}
