package pkcs

import (
	"fmt"
	"os"
	"strings"
)

// Kind says why a module was chosen.
type Kind string

const (
	// KindBeID: the Belgian eID middleware's module, found at an install path.
	KindBeID Kind = "beid"
	// KindOpenSC: OpenSC's module, found at an install path.
	KindOpenSC Kind = "opensc"
	// KindConfigured: the path the caller named.
	KindConfigured Kind = "configured"
)

// Discovery is the outcome of Discover: the module chosen, why, and every
// path looked at in order (the chosen one last).
type Discovery struct {
	Path  string
	Kind  Kind
	Tried []string
}

func (d Discovery) String() string {
	if d.Path == "" {
		return fmt.Sprintf("no PKCS#11 module (tried %s)", strings.Join(d.Tried, ", "))
	}
	return fmt.Sprintf("%s module %s (tried %s)", d.Kind, d.Path, strings.Join(d.Tried, ", "))
}

// candidate is one install path of a known module.
type candidate struct {
	path string
	kind Kind
}

// Discover picks the PKCS#11 module: configured when it is not empty (and
// nothing else: see the package documentation), otherwise the first
// existing file among the Belgian middleware's install paths, then
// OpenSC's. The error wraps ErrNoModule; its Discovery still lists what was
// tried.
func Discover(configured string) (Discovery, error) {
	return discover(configured, platformCandidates(), fileExists)
}

func discover(configured string, cands []candidate, exists func(string) bool) (Discovery, error) {
	if configured != "" {
		d := Discovery{Tried: []string{configured}}
		if !exists(configured) {
			return d, fmt.Errorf("%w: configured module %s does not exist", ErrNoModule, configured)
		}
		d.Path, d.Kind = configured, KindConfigured
		return d, nil
	}
	var d Discovery
	for _, c := range cands {
		d.Tried = append(d.Tried, c.path)
		if exists(c.path) {
			d.Path, d.Kind = c.path, c.kind
			return d, nil
		}
	}
	return d, fmt.Errorf("%w (looked for the Belgian eID middleware and OpenSC)", ErrNoModule)
}

// fileExists: a regular file (or a symlink to one) at path.
func fileExists(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular()
}
