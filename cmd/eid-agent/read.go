package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/eid-agent/eid-agent/card"
	"github.com/eid-agent/eid-agent/card/eidfile"
	"github.com/eid-agent/eid-agent/card/viewerxml"
	"github.com/eid-agent/eid-agent/proof"
)

func runRead(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("read", stderr)
	reader := fs.String("reader", "", "reader `NAME` (or its number in 'eid-agent readers'); default: the only reader holding a card")
	asJSON := fs.Bool("json", false, "print the reading as JSON (the agent's public format)")
	asXML := fs.Bool("xml", false, "print the eID Viewer .eid XML (version 4)")
	noPhoto := fs.Bool("no-photo", false, "leave the photo out of the output (it is still read and checked)")
	var roots multiFlag
	fs.Var(&roots, "trust-root", "also trust the root certificate in `FILE.pem` (PEM or DER; repeatable)")
	withProof := fs.Bool("proof", false, "also make the reading-proof record, journal it and print it (docs/isi-and-proofs.md)")
	jf := addJournalFlags(fs)
	if st, ok := parseFlags(fs, args); !ok {
		return st
	}
	if *asJSON && *asXML {
		fmt.Fprintln(stderr, "eid-agent read: --json and --xml exclude each other")
		return exitUsage
	}
	if *withProof && *asXML {
		fmt.Fprintln(stderr, "eid-agent read: --proof goes with text or --json output, not --xml")
		return exitUsage
	}
	trust, err := eidfile.SystemTrustStore()
	if err != nil {
		fmt.Fprintf(stderr, "eid-agent: warning: %v\n", err)
	}
	for _, f := range roots {
		if err := trust.AddFile(f); err != nil {
			return fail(stderr, fmt.Errorf("--trust-root: %w", err))
		}
	}

	c, done, err := openCard(*reader)
	if err != nil {
		return fail(stderr, err)
	}
	defer done()
	r, err := c.Read(card.ReadOptions{Trust: trust})
	if err != nil {
		return fail(stderr, fmt.Errorf("%s: %w", c.Reader(), err))
	}
	if *noPhoto {
		r.Photo = nil
	}
	var rec *proof.Record
	if *withProof {
		if rec, err = recordReading(r, jf, stderr); err != nil {
			return fail(stderr, err)
		}
	}

	switch {
	case *asJSON:
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if rec != nil {
			// The reading's members plus "proof" (docs/isi-and-proofs.md).
			err = enc.Encode(struct {
				*eidfile.Reading
				Proof *proof.Record `json:"proof"`
			}{r, rec})
		} else {
			err = enc.Encode(r)
		}
	case *asXML:
		var b []byte
		if b, err = viewerxml.Marshal(r); err == nil {
			_, err = stdout.Write(b)
		}
	default:
		if err = printText(stdout, r); err == nil && rec != nil {
			err = printProof(stdout, *rec, journalPath(jf))
		}
	}
	if err != nil {
		return fail(stderr, err)
	}
	if problems := integrityProblems(r.Integrity); len(problems) > 0 {
		fmt.Fprintf(stderr, "eid-agent: integrity check failed: %s\n", strings.Join(problems, "; "))
		return exitIntegrity
	}
	return exitOK
}

// openCard connects to the card in the reader named on the command line
// (see resolveReader); done releases the card and the PC/SC context.
func openCard(readerArg string) (c *card.Card, done func(), err error) {
	ctx, err := card.NewContext()
	if err != nil {
		return nil, nil, err
	}
	name, err := resolveReader(ctx, readerArg)
	if err == nil {
		c, err = ctx.Connect(name)
	}
	if err != nil {
		ctx.Release()
		return nil, nil, err
	}
	return c, func() { c.Close(); ctx.Release() }, nil
}

// resolveReader accepts a reader name, its index in the reader list, or
// nothing (the only reader holding a card).
func resolveReader(ctx *card.Context, arg string) (string, error) {
	if n, err := strconv.Atoi(arg); err == nil && arg != "" {
		readers, err := ctx.Readers()
		if err != nil {
			return "", err
		}
		if n < 0 || n >= len(readers) {
			return "", fmt.Errorf("reader number %d: %w (there are %d)", n, card.ErrReaderNotFound, len(readers))
		}
		arg = readers[n].Name
	}
	return ctx.ChooseReader(arg)
}

// integrityProblems lists every verdict that is not a pass.
func integrityProblems(in eidfile.Integrity) []string {
	var out []string
	add := func(what, verdict, detail, pass string) {
		if verdict == "" || verdict == pass {
			return
		}
		s := what + " " + verdict
		if detail != "" {
			s += " (" + detail + ")"
		}
		out = append(out, s)
	}
	add("identity", in.Identity, in.IdentityDetail, eidfile.Valid)
	add("address", in.Address, in.AddressDetail, eidfile.Valid)
	add("photo", in.Photo, in.PhotoDetail, eidfile.Valid)
	add("basic key", in.BasicKey, in.BasicKeyDetail, eidfile.Valid)
	add("chip authentication", in.ChipAuthentication, in.ChipAuthenticationDetail, eidfile.Valid)
	add("RRN chain", in.RRNChain, in.RRNChainDetail, eidfile.Trusted)
	add("national number", in.NationalNumber, in.NationalNumberDetail, eidfile.Valid)
	add("card number", in.CardNumber, in.CardNumberDetail, eidfile.Valid)
	return out
}

func printText(w io.Writer, r *eidfile.Reading) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(tw, "%s\t%s\n", k, v)
		}
	}
	id, cd := r.Identity, r.Card
	row("Surname", id.Surname)
	row("Given names", strings.TrimSpace(id.FirstNames+" "+id.ThirdInitial))
	row("National number", id.NationalNumber)
	row("Birth", strings.TrimSpace(id.BirthDate+", "+id.BirthPlace))
	row("Gender", id.Gender)
	row("Nationality", id.Nationality)
	row("Noble condition", id.NobleCondition)
	if id.SpecialStatus != "none" {
		row("Special status", id.SpecialStatus)
	}
	if r.Address != nil {
		row("Address", fmt.Sprintf("%s, %s %s", r.Address.StreetAndNumber, r.Address.Zip, r.Address.Municipality))
	}
	row("Document", fmt.Sprintf("%s (type %d)", cd.DocumentTypeName, cd.DocumentType))
	row("Card number", cd.CardNumber)
	row("Valid", cd.ValidFrom+" to "+cd.ValidUntil)
	row("Issued in", cd.IssuingMunicipality)
	row("Chip number", cd.ChipNumber)
	row("Applet", cd.AppletVersion)
	row("Reader", cd.Reader)
	if r.PhotoSHA256 != "" {
		row("Photo", fmt.Sprintf("JPEG, sha256 %s", r.PhotoSHA256))
	}
	in := r.Integrity
	verdicts := fmt.Sprintf("identity %s, address %s, photo %s, RRN chain %s", in.Identity, in.Address, in.Photo, in.RRNChain)
	if in.ChipAuthentication != "" {
		verdicts += ", chip " + in.ChipAuthentication
	}
	row("Integrity", verdicts)
	return tw.Flush()
}
