package installer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
)

// manifestVersion is bumped when the manifest's meaning changes; an older
// agent refuses a newer manifest rather than half-uninstalling.
const manifestVersion = 1

// Manifest records what an install created, so Uninstall removes exactly
// that. It is JSON, sorted, without timestamps: installing twice writes
// the same bytes.
type Manifest struct {
	Version int    `json:"version"`
	OS      string `json:"os"`
	Scope   Scope  `json:"scope"`
	Binary  string `json:"binary"`
	// Files created by install (a file that was already there is never
	// listed, so never removed).
	Files []ManifestFile `json:"files"`
	// Dirs created by install; removed at uninstall when empty.
	Dirs       []string  `json:"dirs"`
	Deactivate []Command `json:"deactivate,omitempty"`
	Cleanup    []Command `json:"cleanup,omitempty"`
}

// ManifestFile is one created file.
type ManifestFile struct {
	Path string `json:"path"`
	Kind Kind   `json:"kind"`
}

func (m *Manifest) file(path string) *ManifestFile {
	for i := range m.Files {
		if m.Files[i].Path == path {
			return &m.Files[i]
		}
	}
	return nil
}

func (m *Manifest) addFile(path string, k Kind) {
	if m.file(path) == nil {
		m.Files = append(m.Files, ManifestFile{path, k})
	}
}

func (m *Manifest) addDir(d string) {
	if !slices.Contains(m.Dirs, d) {
		m.Dirs = append(m.Dirs, d)
	}
}

// addCommands appends the commands not already there (a second install
// must not make uninstall run them twice).
func addCommands(list []Command, cmds ...Command) []Command {
	for _, c := range cmds {
		if !slices.ContainsFunc(list, func(x Command) bool { return slices.Equal(x.Args, c.Args) }) {
			list = append(list, c)
		}
	}
	return list
}

func (m *Manifest) marshal() []byte {
	slices.SortFunc(m.Files, func(a, b ManifestFile) int { return cmpString(a.Path, b.Path) })
	// Parents before children; Uninstall walks the list backwards.
	slices.SortFunc(m.Dirs, cmpString)
	b, _ := json.MarshalIndent(m, "", "  ")
	return append(b, '\n')
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

var manifestPrograms = []string{"systemctl", "launchctl", "schtasks", "certutil", "security"}

func parseManifest(data []byte, t Target) (*Manifest, error) {
	var m Manifest
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrManifest, err)
	}
	if m.Version != manifestVersion {
		return nil, fmt.Errorf("%w: version %d, this agent knows %d", ErrManifest, m.Version, manifestVersion)
	}
	if m.OS != t.OS || m.Scope != t.Scope {
		return nil, fmt.Errorf("%w: it records a %s install on %s, not %s on %s", ErrManifest, m.Scope, m.OS, t.Scope, t.OS)
	}
	// Uninstall runs these commands: only the service managers and trust
	// tools an install uses, whatever the file says.
	for _, c := range append(slices.Clone(m.Deactivate), m.Cleanup...) {
		if len(c.Args) == 0 || !slices.Contains(manifestPrograms, c.Args[0]) {
			return nil, fmt.Errorf("%w: command %q", ErrManifest, c.Args)
		}
	}
	return &m, nil
}
