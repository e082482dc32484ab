package pkcs

// platformCandidates: the eID middleware's installer puts its module under
// /Library/Belgium Identity Card; OpenSC's installer under /Library/OpenSC,
// Homebrew under its prefix.
func platformCandidates() []candidate {
	return []candidate{
		{"/Library/Belgium Identity Card/Pkcs11/libbeidpkcs11.dylib", KindBeID},
		{"/usr/local/lib/libbeidpkcs11.dylib", KindBeID},
		{"/Library/OpenSC/lib/opensc-pkcs11.so", KindOpenSC},
		{"/usr/local/lib/opensc-pkcs11.so", KindOpenSC},
		{"/opt/homebrew/lib/opensc-pkcs11.so", KindOpenSC},
	}
}
