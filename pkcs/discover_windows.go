package pkcs

import (
	"os"
	"path/filepath"
)

// platformCandidates: the eID middleware installs beidpkcs11.dll into
// System32; OpenSC's MSI into Program Files. Both directories come from the
// environment, with the usual defaults.
func platformCandidates() []candidate {
	system := envOr("SystemRoot", `C:\Windows`)
	var c []candidate
	c = append(c, candidate{filepath.Join(system, "System32", "beidpkcs11.dll"), KindBeID})
	seen := map[string]bool{}
	for _, pf := range []string{envOr("ProgramW6432", ""), envOr("ProgramFiles", `C:\Program Files`)} {
		if pf == "" || seen[pf] {
			continue
		}
		seen[pf] = true
		c = append(c, candidate{filepath.Join(pf, "OpenSC Project", "OpenSC", "pkcs11", "opensc-pkcs11.dll"), KindOpenSC})
	}
	return c
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
