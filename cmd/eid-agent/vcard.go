package main

import (
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/eid-agent/eid-agent/internal/virtual"
	"github.com/eid-agent/eid-agent/internal/vpcd"
)

func runVcard(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("vcard", stderr)
	profile := fs.String("profile", "citizen-1.8", "built-in card `NAME` ("+strings.Join(virtual.PresetNames(), ", ")+") or a test-card dump folder")
	addr := fs.String("vpcd", "127.0.0.1:35963", "`HOST:PORT` of the vpcd slot to insert the card into")
	writeRoot := fs.String("write-root", "", "write the card's test root certificate to `FILE.pem` (for read --trust-root)")
	shortReads := fs.Bool("short-reads", false, "answer reads past the end with short data and 9000 instead of 6C xx")
	if st, ok := parseFlags(fs, args); !ok {
		return st
	}
	p, err := loadProfile(*profile)
	if err != nil {
		return fail(stderr, err)
	}
	if *writeRoot != "" {
		if p.PKI == nil || p.PKI.Root == nil {
			return fail(stderr, fmt.Errorf("profile %s has no root certificate to write", p.Name))
		}
		b := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.PKI.Root.Raw})
		if err := os.WriteFile(*writeRoot, b, 0o644); err != nil {
			return fail(stderr, err)
		}
	}
	var opts []virtual.Option
	if *shortReads {
		opts = append(opts, virtual.WithShortReads())
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	in, err := vpcd.Insert(ctx, *addr, virtual.New(p, opts...))
	if err != nil {
		return fail(stderr, fmt.Errorf("%w (is pcscd running with the vpcd driver? scripts/pcsc-lab start)", err))
	}
	fmt.Fprintf(stdout, "virtual card %s (applet %s) inserted at %s; Ctrl-C removes it\n", p.Name, p.Applet, *addr)
	select {
	case <-ctx.Done():
		if err := in.Remove(); err != nil {
			return fail(stderr, err)
		}
		return exitOK
	case <-in.Done():
		err := in.Err()
		if err == nil {
			err = errors.New("card removed")
		}
		return fail(stderr, fmt.Errorf("vpcd closed the slot: %w", err))
	}
}

// loadProfile accepts a preset name or a dump folder.
func loadProfile(name string) (*virtual.Profile, error) {
	if st, err := os.Stat(name); err == nil && st.IsDir() {
		return virtual.LoadDump(name)
	}
	return virtual.Preset(name)
}
