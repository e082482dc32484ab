package pinentry

import (
	"errors"
	"os"

	"golang.org/x/term"
)

// IsTerminal reports whether f is a terminal a PIN can be typed on.
func IsTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }

func readPassword(f *os.File) ([]byte, error) {
	if !IsTerminal(f) {
		return nil, errors.New("not a terminal: use --pin-stdin or a pinentry program")
	}
	return term.ReadPassword(int(f.Fd()))
}
