// Package packaging holds the Linux packages' definition (nfpm.yaml, the
// maintainer scripts, the unit and the policy sample the packages ship)
// and the tests that build a .deb and install it into a throwaway root.
// It has no code of its own; see docs/installer.md.
package packaging
