package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/eid-agent/eid-agent/card"
	"github.com/eid-agent/eid-agent/pkcs"
)

type readersJSON struct {
	Readers []readerJSON `json:"readers"`
	Module  moduleJSON   `json:"pkcs11Module"`
}

type moduleJSON struct {
	Path  string   `json:"path,omitempty"`
	Kind  string   `json:"kind,omitempty"` // beid, opensc, configured
	Tried []string `json:"tried,omitempty"`
	Error string   `json:"error,omitempty"`
}

type readerJSON struct {
	Name          string `json:"name"`
	Card          string `json:"card"` // none, belpic, unknown
	Description   string `json:"description"`
	ATR           string `json:"atr,omitempty"`
	AppletVersion string `json:"appletVersion,omitempty"`
	InUse         bool   `json:"inUse,omitempty"`
}

func runReaders(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("readers", stderr)
	asJSON := fs.Bool("json", false, "print JSON")
	module := fs.String("module", "", "PKCS#11 module `FILE` to report instead of the discovered one")
	if st, ok := parseFlags(fs, args); !ok {
		return st
	}
	ctx, err := card.NewContext()
	if err != nil {
		return fail(stderr, err)
	}
	defer ctx.Release()
	readers, err := ctx.Readers()
	if err != nil {
		return fail(stderr, err)
	}
	out := make([]readerJSON, len(readers))
	for i, r := range readers {
		out[i] = readerJSON{Name: r.Name, Card: string(r.Kind), ATR: fmt.Sprintf("%X", r.ATR), AppletVersion: r.AppletVersion, InUse: r.InUse}
		switch r.Kind {
		case card.KindNone:
			out[i].Description = "no card"
		case card.KindBELPIC:
			out[i].Description = "Belgian eID"
			if r.AppletVersion != "" {
				out[i].Description += " (applet " + r.AppletVersion + ")"
			} else {
				out[i].Description += " (applet 1.x)"
			}
		default:
			out[i].Description = "unknown card"
		}
		if r.InUse {
			out[i].Description += ", in use by another program"
		}
	}
	// The signing module is found without loading it: listing readers must
	// not initialise a PKCS#11 module (and touch every card) as a side effect.
	disc, derr := pkcs.Discover(*module)
	mod := moduleJSON{Path: disc.Path, Kind: string(disc.Kind), Tried: disc.Tried}
	if derr != nil {
		mod.Error = derr.Error()
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(readersJSON{Readers: out, Module: mod}); err != nil {
			return fail(stderr, err)
		}
		return exitOK
	}
	for i, r := range out {
		fmt.Fprintf(stdout, "%d: %s: %s\n", i, r.Name, r.Description)
	}
	if derr != nil {
		fmt.Fprintf(stdout, "PKCS#11 module: none (%v); signing uses APDUs\n", derr)
	} else {
		fmt.Fprintf(stdout, "PKCS#11 module: %s (%s)\n", disc.Path, disc.Kind)
	}
	return exitOK
}
