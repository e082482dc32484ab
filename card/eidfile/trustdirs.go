package eidfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// TrustDirs are the folders where the official Belgian eID software keeps
// the Belgian root certificates, plus the agent's own. The eID Viewer on
// Linux reads ${pkgdatadir}/trustdir, and on macOS the certs folder of its
// application bundle (eid-mw plugins_tools/eid-viewer/certs/README.md).
// The Windows eID Viewer keeps no root files: it validates through the
// Windows certificate store (same README), which the agent does not read
// (that store trusts every public web CA, none of which may vouch for an
// RRN certificate). On Windows the embedded roots and the agent's own
// folder (%AppData%\eid-agent\roots) are the sources. The folders add to
// the embedded production roots (roots/README.md): a root the Belgian
// PKI issues after this build is trusted once the middleware or an
// administrator puts it there.
func TrustDirs() []string {
	var dirs []string
	switch runtime.GOOS {
	case "linux":
		dirs = append(dirs, "/usr/share/eid-mw/trustdir", "/usr/local/share/eid-mw/trustdir")
	case "darwin":
		dirs = append(dirs, "/Applications/eID Viewer.app/Contents/Resources/certs")
	}
	if cfg, err := os.UserConfigDir(); err == nil {
		dirs = append(dirs, filepath.Join(cfg, "eid-agent", "roots"))
	}
	return dirs
}

// AddDir trusts every *.pem, *.crt, *.cer and *.der certificate file of dir.
// A missing folder is not an error (and not a source); files that do not
// parse are skipped and reported together in the returned error, the
// others are still added. A folder that exists is one TrustSource, even
// when it holds no certificate.
func (s *TrustStore) AddDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	one := &TrustStore{}
	var errs []error
	for _, e := range entries {
		ext := strings.ToLower(filepath.Ext(e.Name()))
		if e.IsDir() || (ext != ".pem" && ext != ".crt" && ext != ".cer" && ext != ".der") {
			continue
		}
		if err := one.AddFile(filepath.Join(dir, e.Name())); err != nil {
			errs = append(errs, err)
		}
	}
	for _, c := range one.roots {
		s.Add(c)
	}
	s.sources = append(s.sources, TrustSource{Name: dir, Roots: one.roots})
	return errors.Join(errs...)
}

// SystemTrustStore is the embedded roots plus those found in TrustDirs.
// The error, when not nil, names files that were skipped; the store is
// usable either way.
func SystemTrustStore() (*TrustStore, error) {
	s := DefaultTrustStore().Clone()
	var errs []error
	for _, d := range TrustDirs() {
		if err := s.AddDir(d); err != nil {
			errs = append(errs, fmt.Errorf("trust folder %s: %w", d, err))
		}
	}
	return s, errors.Join(errs...)
}
