package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/eid-agent/eid-agent/card/eidfile"
	"github.com/eid-agent/eid-agent/internal/clock"

	"github.com/eid-agent/eid-agent/proof"
)

// The proof journal on the command line (docs/isi-and-proofs.md): `isi` and
// `read --proof` append to it, `proofs` lists, exports and prunes it.

// journalFlags are the --journal and --no-journal flags of the commands
// that append proofs.
type journalFlags struct {
	path string
	none bool
}

func addJournalFlags(fs *flag.FlagSet) *journalFlags {
	j := &journalFlags{}
	fs.StringVar(&j.path, "journal", "", "reading-proof journal `FILE` (default $XDG_STATE_HOME/eid-agent/proofs.jsonl, or ~/.local/state/eid-agent/proofs.jsonl)")
	fs.BoolVar(&j.none, "no-journal", false, "do not append the proof to the journal")
	return j
}

func (j *journalFlags) file() (string, error) {
	if j.path != "" {
		return j.path, nil
	}
	return proof.DefaultPath()
}

// open opens the journal for appending, or returns nil with --no-journal.
func (j *journalFlags) open() (*proof.Journal, error) {
	if j.none {
		return nil, nil
	}
	path, err := j.file()
	if err != nil {
		return nil, err
	}
	jn, err := proof.Open(path, proof.Options{})
	if errors.Is(err, proof.ErrLocked) {
		return nil, fmt.Errorf("%w (a running 'eid-agent run' keeps it; use --no-journal, or another --journal)", err)
	}
	return jn, err
}

// appendProof journals rec (unless jn is nil) and warns about what billing
// would refuse. It returns the record as written, with the CLI as its
// caller.
func appendProof(jn *proof.Journal, rec proof.Record, stderr io.Writer) (proof.Record, error) {
	rec.Caller = proof.CallerCLI
	for _, w := range rec.Warnings() {
		fmt.Fprintf(stderr, "eid-agent: warning: %s\n", w)
	}
	if jn == nil {
		return rec, nil
	}
	return jn.Append(rec)
}

// recordReading makes, journals and returns the proof of an eID reading
// (read --proof).
func recordReading(r *eidfile.Reading, jf *journalFlags, stderr io.Writer) (*proof.Record, error) {
	jn, err := jf.open()
	if err != nil {
		return nil, err
	}
	if jn != nil {
		defer jn.Close()
	}
	rec, err := appendProof(jn, proof.FromReading(r, proof.InputChip, clock.Now()), stderr)
	if err != nil {
		return nil, err
	}
	return &rec, nil
}

// printProof writes the text form of a record.
func printProof(w io.Writer, r proof.Record, journal string) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	proofRows(tw, r, journal)
	return tw.Flush()
}

// proofRows writes the record's rows into a table that may hold others.
func proofRows(tw io.Writer, r proof.Record, journal string) {
	fmt.Fprintf(tw, "Proof\tsupport %s (%s), input %s (%s)", r.SupportType, r.SupportType.Name(), r.InputType, r.InputType.Name())
	if r.ManualReason != "" {
		fmt.Fprintf(tw, ", reason %s (%s)", r.ManualReason, r.ManualReason.Name())
	}
	fmt.Fprintln(tw)
	fmt.Fprintf(tw, "Read at\t%s\n", r.ReadAt.In(proof.Brussels).Format(time.RFC3339))
	if r.SerialNumber != "" {
		fmt.Fprintf(tw, "Serial number\t%s\n", r.SerialNumber)
	}
	fmt.Fprintf(tw, "Validity\t%s\n", r.Validity)
	if journal != "" {
		fmt.Fprintf(tw, "Journal\t%s (record %s)\n", journal, r.ID)
	}
}

func runProofs(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		fmt.Fprintln(stderr, "usage: eid-agent proofs list|export|prune [flags]  ('eid-agent proofs list -h' for the flags)")
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			return exitOK
		}
		return exitUsage
	}
	sub, args := args[0], args[1:]
	fs := newFlags("proofs "+sub, stderr)
	journal := fs.String("journal", "", "reading-proof journal `FILE` (default $XDG_STATE_HOME/eid-agent/proofs.jsonl)")
	var q proof.Query
	var since, until, support string
	var format *string
	var retention *string
	if sub == "list" || sub == "export" {
		fs.StringVar(&since, "since", "", "only proofs read at or after `TIME` (YYYY-MM-DD, Brussels midnight, or RFC 3339)")
		fs.StringVar(&until, "until", "", "only proofs read before `TIME` (YYYY-MM-DD, Brussels midnight, or RFC 3339)")
		fs.StringVar(&q.SSIN, "ssin", "", "only proofs of this `SSIN`")
		fs.StringVar(&support, "support", "", "only proofs of this support type `CODE` (1 eID, 2 foreigner card, 4 ISI+, ...)")
	}
	switch sub {
	case "list":
	case "export":
		format = fs.String("format", "jsonl", "`FORMAT`: jsonl (one JSON record per line) or csv")
	case "prune":
		retention = fs.String("retention", "", "remove proofs older than `AGE`: days (400d), weeks (52w), years of 365 days (10y) or a Go duration (720h); required")
	default:
		fmt.Fprintf(stderr, "eid-agent proofs: unknown subcommand %q (list, export or prune)\n", sub)
		return exitUsage
	}
	if st, ok := parseFlags(fs, args); !ok {
		return st
	}
	usageErr := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "eid-agent proofs %s: %s\n", sub, fmt.Sprintf(format, a...))
		return exitUsage
	}
	var err error
	if q.Since, err = parseWhen(since); err != nil {
		return usageErr("--since: %v", err)
	}
	if q.Until, err = parseWhen(until); err != nil {
		return usageErr("--until: %v", err)
	}
	if support != "" {
		if q.Support, err = proof.ParseSupportType(support); err != nil {
			return usageErr("--support: %v", err)
		}
	}
	path := *journal
	if path == "" {
		if path, err = proof.DefaultPath(); err != nil {
			return fail(stderr, err)
		}
	}

	switch sub {
	case "list", "export":
		f := proof.FormatJSONL
		if format != nil {
			if f, err = proof.ParseFormat(*format); err != nil {
				return usageErr("--format: %v", err)
			}
		}
		// Read-only: no lock, so this works while the agent is writing.
		jn, err := proof.Open(path, proof.Options{ReadOnly: true})
		if err != nil {
			return fail(stderr, err)
		}
		defer jn.Close()
		if sub == "export" {
			err = jn.Export(stdout, f, q)
		} else {
			err = listProofs(stdout, jn, q)
		}
		if err != nil {
			return fail(stderr, err)
		}
	case "prune":
		if *retention == "" {
			return usageErr("--retention is required (removing proofs must be asked for)")
		}
		keep, err := parseAge(*retention)
		if err != nil {
			return usageErr("--retention: %v", err)
		}
		jn, err := proof.Open(path, proof.Options{Retention: keep})
		if err != nil {
			return fail(stderr, err)
		}
		defer jn.Close()
		n, err := jn.Prune(clock.Now())
		if err != nil {
			return fail(stderr, err)
		}
		fmt.Fprintf(stdout, "removed %d proof(s) read before %s\n", n, clock.Now().Add(-keep).In(proof.Brussels).Format(time.RFC3339))
	}
	return exitOK
}

func listProofs(w io.Writer, jn *proof.Journal, q proof.Query) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "READ AT\tSUPPORT\tINPUT\tREASON\tSERIAL\tSSIN\tVALIDITY\tID")
	n := 0
	err := jn.Each(q, func(r proof.Record) error {
		n++
		reason := string(r.ManualReason)
		if reason == "" {
			reason = "-"
		}
		serial := r.SerialNumber
		if serial == "" {
			serial = "-"
		}
		_, err := fmt.Fprintf(tw, "%s\t%s %s\t%s %s\t%s\t%s\t%s\t%s\t%s\n", r.ReadAt.In(proof.Brussels).Format(time.RFC3339),
			r.SupportType, r.SupportType.Name(), r.InputType, r.InputType.Name(), reason, serial, r.SSIN, r.Validity, r.ID)
		return err
	})
	if err != nil {
		return err
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%d proof(s)\n", n)
	return err
}

// parseWhen reads a date (midnight in Brussels, the zone of the proofs) or
// an RFC 3339 time; "" is no bound.
func parseWhen(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.ParseInLocation(time.DateOnly, s, proof.Brussels); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither YYYY-MM-DD nor an RFC 3339 time", s)
	}
	return t, nil
}

// parseAge reads 400d, 52w, 10y (365-day years) or a Go duration.
func parseAge(s string) (time.Duration, error) {
	day := 24 * time.Hour
	for suffix, unit := range map[string]time.Duration{"d": day, "w": 7 * day, "y": 365 * day} {
		if n, ok := strings.CutSuffix(s, suffix); ok {
			v, err := strconv.Atoi(n)
			if err != nil || v <= 0 {
				return 0, fmt.Errorf("%q: want a positive whole number before %q", s, suffix)
			}
			return time.Duration(v) * unit, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%q: want a positive age such as 400d, 52w, 10y or 720h", s)
	}
	return d, nil
}

// journalPath is the file a proof went to, "" with --no-journal.
func journalPath(j *journalFlags) string {
	if j.none {
		return ""
	}
	p, _ := j.file()
	return p
}
