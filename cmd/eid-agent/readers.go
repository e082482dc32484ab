package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/eid-agent/eid-agent/card"
)

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
		out[i] = readerJSON{Name: r.Name, Card: r.Kind, ATR: fmt.Sprintf("%X", r.ATR), AppletVersion: r.AppletVersion, InUse: r.InUse}
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
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			return fail(stderr, err)
		}
		return exitOK
	}
	for i, r := range out {
		fmt.Fprintf(stdout, "%d: %s: %s\n", i, r.Name, r.Description)
	}
	return exitOK
}
