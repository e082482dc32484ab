package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/eid-agent/eid-agent/internal/testkit"
)

// TestUsageGolden pins the command list help prints: the table in main.go
// is its only source, so adding, removing or renaming a command shows
// here. It runs in-process and needs no lab.
func TestUsageGolden(t *testing.T) {
	var stdout, stderr strings.Builder
	if st := run([]string{"help"}, &stdout, &stderr); st != exitOK {
		t.Fatalf("help: exit %d, want %d", st, exitOK)
	}
	if stdout.Len() != 0 {
		t.Errorf("help wrote to stdout: %q", stdout.String())
	}
	testkit.Golden(t, filepath.Join("testdata", "usage.golden"), []byte(stderr.String()))

	// No arguments prints the same and is a usage error; an unknown
	// command says so first.
	stderr.Reset()
	if st := run(nil, &stdout, &stderr); st != exitUsage {
		t.Errorf("no arguments: exit %d, want %d", st, exitUsage)
	}
	testkit.Golden(t, filepath.Join("testdata", "usage.golden"), []byte(stderr.String()))
	stderr.Reset()
	if st := run([]string{"nope"}, &stdout, &stderr); st != exitUsage {
		t.Errorf("unknown command: exit %d, want %d", st, exitUsage)
	}
	if first, _, _ := strings.Cut(stderr.String(), "\n"); first != `eid-agent: unknown command "nope"` {
		t.Errorf("unknown command: first line %q", first)
	}
}
