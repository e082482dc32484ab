package virtual

import (
	"errors"
	"fmt"
)

// Errors callers can test with errors.Is.
var (
	// ErrUnknownPreset: Preset was given a name PresetNames does not list.
	ErrUnknownPreset = errors.New("unknown virtual card preset")
	// ErrUnknownDump: LoadDump found no dump layout it knows in the folder.
	ErrUnknownDump = errors.New("not a known card dump layout")

	errNotEC = errors.New("not an ECDSA key")
)

// OptionError reports a GenerateOptions field that cannot be honoured.
type OptionError struct {
	Field  string // e.g. "Generation", "NationalNumber"
	Reason string
}

func (e *OptionError) Error() string {
	return fmt.Sprintf("virtual card generation: %s: %s", e.Field, e.Reason)
}

// ProfileError reports a Profile that a Card cannot serve.
type ProfileError struct {
	Profile string
	Reason  string
}

func (e *ProfileError) Error() string {
	return fmt.Sprintf("virtual card profile %q: %s", e.Profile, e.Reason)
}
