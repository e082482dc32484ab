package pkcs

import "runtime"

// platformCandidates: the Debian/Ubuntu multiarch directory first (where
// the eid-mw and opensc-pkcs11 packages install), then the plain and /usr/local
// prefixes of source builds, and lib64 for Fedora-like systems.
func platformCandidates() []candidate {
	var dirs []string
	if triplet := multiarch[runtime.GOARCH]; triplet != "" {
		dirs = append(dirs, "/usr/lib/"+triplet)
	}
	dirs = append(dirs, "/usr/lib", "/usr/local/lib", "/usr/lib64")
	var c []candidate
	for _, d := range dirs {
		c = append(c, candidate{d + "/libbeidpkcs11.so.0", KindBeID})
	}
	for _, d := range dirs {
		c = append(c,
			candidate{d + "/opensc-pkcs11.so", KindOpenSC},
			candidate{d + "/pkcs11/opensc-pkcs11.so", KindOpenSC})
	}
	return c
}

// multiarch maps GOARCH to the Debian multiarch triplet.
var multiarch = map[string]string{
	"amd64":   "x86_64-linux-gnu",
	"386":     "i386-linux-gnu",
	"arm64":   "aarch64-linux-gnu",
	"arm":     "arm-linux-gnueabihf",
	"ppc64le": "powerpc64le-linux-gnu",
	"s390x":   "s390x-linux-gnu",
	"riscv64": "riscv64-linux-gnu",
}
