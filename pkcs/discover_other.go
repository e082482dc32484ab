//go:build !linux && !darwin && !windows

package pkcs

// platformCandidates: no known install paths; only a configured module.
func platformCandidates() []candidate { return nil }
