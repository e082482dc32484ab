package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"

	"github.com/eid-agent/eid-agent/internal/clock"

	"github.com/eid-agent/eid-agent/isi"
	"github.com/eid-agent/eid-agent/proof"
)

func runISI(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("isi", stderr)
	scan := fs.String("scan", "", "interpret the `RAW` string a barcode scanner typed")
	asQR := fs.Bool("qr", false, "with --scan: the code was a QR code (input type 3) though the scan has no ]Q prefix")
	device := fs.String("device", "", "read scans from the serial or USB-CDC scanner `TTY` (e.g. /dev/ttyACM0) until interrupted")
	baud := fs.Int("baud", 0, "with --device: line speed (0 leaves it; USB-CDC ignores it)")
	manual := fs.Bool("manual", false, "typed entry: --ssin and --reason are required")
	var e isi.Entry
	fs.StringVar(&e.SSIN, "ssin", "", "with --manual: the national or BIS `NUMBER`")
	reason := fs.String("reason", "", "with --manual: why the data is typed, `CODE` "+proof.ReasonList())
	fs.StringVar(&e.CardNumber, "card-number", "", "with --manual: the ISI+ card `NUMBER` (billing requires it)")
	fs.StringVar(&e.LastName, "last-name", "", "with --manual: `NAME`")
	fs.StringVar(&e.FirstName, "first-name", "", "with --manual: `NAME`")
	fs.StringVar(&e.BirthDate, "birth-date", "", "with --manual: `YYYY-MM-DD` (must agree with the SSIN)")
	asJSON := fs.Bool("json", false, "print the reading and its proof as JSON (one line per scan with --device)")
	jf := addJournalFlags(fs)
	if st, ok := parseFlags(fs, args); !ok {
		return st
	}

	usageErr := func(msg string) int {
		fmt.Fprintf(stderr, "eid-agent isi: %s\n", msg)
		return exitUsage
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	modes := 0
	for _, m := range []string{"scan", "device", "manual"} {
		if set[m] {
			modes++
		}
	}
	if modes != 1 {
		return usageErr("give exactly one of --scan RAW, --device TTY or --manual")
	}
	for _, f := range []string{"ssin", "reason", "card-number", "last-name", "first-name", "birth-date"} {
		if set[f] && !*manual {
			return usageErr("--" + f + " goes with --manual")
		}
	}
	if set["qr"] && !set["scan"] {
		return usageErr("--qr goes with --scan")
	}
	if set["baud"] && !set["device"] {
		return usageErr("--baud goes with --device")
	}
	if *manual {
		if e.SSIN == "" || *reason == "" {
			return usageErr("--manual needs --ssin and --reason (" + proof.ReasonList() + ")")
		}
		r, err := proof.ParseManualReason(*reason)
		if err != nil {
			return usageErr("--reason: " + err.Error())
		}
		e.Reason = r
	}

	jn, err := jf.open()
	if err != nil {
		return fail(stderr, err)
	}
	if jn != nil {
		defer jn.Close()
	}
	out := isiOutput{stdout: stdout, stderr: stderr, json: *asJSON, jn: jn}

	if *device != "" {
		return out.device(*device, *baud)
	}
	var res *isi.Result
	if *manual {
		res, err = isi.Manual(e)
	} else {
		res, err = isi.ParseScan(*scan)
		if err == nil && *asQR {
			res.Input = proof.InputQR
		}
	}
	if err != nil {
		return fail(stderr, err)
	}
	if err := out.emit(res, ""); err != nil {
		return fail(stderr, err)
	}
	return exitOK
}

type isiOutput struct {
	stdout, stderr io.Writer
	json           bool
	jn             *proof.Journal
}

// emit journals the proof of res and prints both.
func (o isiOutput) emit(res *isi.Result, reader string) error {
	rec := res.Proof(clock.Now())
	rec.Reader = reader
	rec, err := appendProof(o.jn, rec, o.stderr)
	if err != nil {
		return err
	}
	if o.json {
		b, err := res.MarshalWithProof(&rec)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(o.stdout, "%s\n", b)
		return err
	}
	journal := ""
	if o.jn != nil {
		journal = o.jn.Path()
	}
	return printISI(o.stdout, res, rec, journal)
}

// device reads a serial scanner until SIGINT or SIGTERM; each scan is
// interpreted, journaled and printed, and a refused scan or an unplugged
// scanner is reported on stderr without stopping.
func (o isiOutput) device(path string, baud int) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	for ev := range isi.ReadDevice(ctx, path, isi.DeviceOptions{Baud: baud}) {
		switch {
		case ev.Connected:
			fmt.Fprintf(o.stderr, "eid-agent: scanner %s ready\n", path)
		case ev.Err != nil:
			fmt.Fprintf(o.stderr, "eid-agent: %v\n", ev.Err)
		default:
			res, err := isi.ParseScan(ev.Scan)
			if err == nil {
				err = o.emit(res, path)
			}
			if err != nil {
				fmt.Fprintf(o.stderr, "eid-agent: scan refused: %v\n", err)
			}
		}
	}
	return exitOK
}

func printISI(w io.Writer, res *isi.Result, rec proof.Record, journal string) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(tw, "%s\t%s\n", k, v)
		}
	}
	row("SSIN", fmt.Sprintf("%s (%s)", res.SSIN, res.SSIN.Kind))
	row("Surname", res.LastName)
	row("Given names", res.FirstName)
	row("Birth date", res.BirthDate)
	row("Gender", res.SSIN.Gender.String())
	row("Card number", res.CardNumber)
	row("Symbology", res.Symbology)
	if res.Layout != isi.LayoutAsIs {
		row("Keyboard", "layout mismatch repaired ("+string(res.Layout)+")")
	}
	row("Uninterpreted", strings.Join(res.Uninterpreted, " | "))
	proofRows(tw, rec, journal)
	return tw.Flush()
}
