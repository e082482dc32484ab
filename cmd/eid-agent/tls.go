package main

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/eid-agent/eid-agent/internal/clock"

	"github.com/eid-agent/eid-agent/internal/loopbackca"
)

// runTLS: tls init [--dir DIR] [--force], tls status [--dir DIR].
func runTLS(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || (args[0] != "init" && args[0] != "status") {
		fmt.Fprintln(stderr, "usage: eid-agent tls init [--dir DIR] [--force] | tls status [--dir DIR]")
		return exitUsage
	}
	sub := args[0]
	fs := newFlags("tls "+sub, stderr)
	def, _ := loopbackca.DefaultDir()
	dir := fs.String("dir", def, "`DIR` of ca.pem, server.pem and server-key.pem")
	force := new(bool)
	if sub == "init" {
		force = fs.Bool("force", false, "replace existing material (the new CA must be trusted again)")
	}
	if st, ok := parseFlags(fs, args[1:]); !ok {
		return st
	}
	if sub == "status" {
		m, err := loopbackca.Load(*dir, clock.Now())
		if err != nil {
			return fail(stderr, err)
		}
		fmt.Fprintf(stdout, "CA:          %s\nvalid until: %s\nnames:       127.0.0.1, ::1, localhost\nca.pem:      %s\n",
			m.CA.Subject.CommonName, m.Cert.NotAfter.Format(time.DateOnly), *dir+"/"+loopbackca.CAFile)
		return exitOK
	}
	b, err := loopbackca.Init(*dir, *force, loopbackca.Options{})
	if errors.Is(err, loopbackca.ErrExists) {
		fmt.Fprintf(stderr, "eid-agent: %v (--force replaces it; browsers must then trust the new ca.pem)\n", err)
		return exitFailure
	}
	if err != nil {
		return fail(stderr, err)
	}
	fmt.Fprintf(stdout, "made %q (its private key was discarded), valid until %s\n", b.CA.Subject.CommonName, b.Cert.NotAfter.Format(time.DateOnly))
	fmt.Fprintf(stdout, "trust %s/%s for wss:// (Safari): see docs/installer.md\n", *dir, loopbackca.CAFile)
	return exitOK
}
