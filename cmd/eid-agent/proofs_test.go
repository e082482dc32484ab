package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/eid-agent/eid-agent/card/eidfile"
	"github.com/eid-agent/eid-agent/internal/clock"

	"github.com/eid-agent/eid-agent/internal/lab"
	"github.com/eid-agent/eid-agent/internal/testkit"
	"github.com/eid-agent/eid-agent/internal/virtual"
	"github.com/eid-agent/eid-agent/proof"
)

// fixedJournal writes a journal of known records: ISI+ scans, a manual
// entry and an eID reading around the 2025 switch to summer time.
func fixedJournal(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "proofs.jsonl")
	j, err := proof.Open(path, proof.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	start := time.Date(2025, 3, 29, 21, 0, 0, 0, time.UTC)
	ssins := []string{"85073003328", "17073003384", "98472899765"}
	for i := 0; i < 6; i++ {
		r := proof.Record{
			ID: fmt.Sprintf("%016x", i+1), ReadAt: start.Add(time.Duration(i) * 2 * time.Hour),
			SupportType: proof.SupportISIPlus, InputType: proof.InputBarcode, SerialNumber: "591201099997",
			SSIN: ssins[i%3], SSINKind: "NN", Validity: proof.DocumentValidityUnknown,
		}
		if r.SSIN == "98472899765" {
			r.SSINKind = "BIS"
		}
		switch i {
		case 2:
			r.InputType, r.ManualReason, r.SerialNumber = proof.InputManual, proof.ReasonNoChip, ""
		case 4:
			r.SupportType, r.InputType, r.SerialNumber, r.DocumentType = proof.SupportEID, proof.InputChip, "592000155079", 1
			r.ValidFrom, r.ValidUntil, r.Validity, r.ChipNumber = "2021-03-01", "2031-03-01", proof.DocumentValid, "534C494E33660012"
			r.Reader, r.Integrity = "Virtual PCD 0 00 00", proof.IntegrityVerified
		case 5:
			r.RawScan = "]C085073003328\r"
		}
		if _, err := j.Append(r); err != nil {
			t.Fatal(err)
		}
	}
	return path
}

func TestProofsListExport(t *testing.T) {
	path := fixedJournal(t)
	for _, tt := range []struct {
		args   []string
		golden string
	}{
		{[]string{"list"}, "proofs-list.golden"},
		{[]string{"export"}, "proofs-export.jsonl.golden"},
		{[]string{"export", "--format", "csv"}, "proofs-export.csv.golden"},
		// Brussels dates: 30 March starts at 23:00 UTC on the 29th.
		{[]string{"export", "--format", "csv", "--since", "2025-03-30", "--until", "2025-03-30T07:00:00+02:00"}, "proofs-export-window.csv.golden"},
		{[]string{"list", "--ssin", "85.07.30-033.28", "--support", "4"}, "proofs-list-ssin.golden"},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			r := runAgent(t, append(append([]string{"proofs"}, tt.args...), "--journal", path)...)
			if r.code != 0 {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			testkit.Golden(t, filepath.Join("testdata", tt.golden), []byte(r.stdout))
		})
	}
	// The JSON lines export re-reads as the journal's records.
	r := runAgent(t, "proofs", "export", "--journal", path)
	want := journalRecords(t, path)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != len(want) {
		t.Fatalf("%d lines for %d records", len(lines), len(want))
	}
	for i, l := range lines {
		var rec proof.Record
		if err := json.Unmarshal([]byte(l), &rec); err != nil || !reflect.DeepEqual(rec, want[i]) {
			t.Errorf("line %d: %+v, %v", i, rec, err)
		}
	}
}

func TestProofsErrorsAndPrune(t *testing.T) {
	path := fixedJournal(t)
	for _, tt := range []struct {
		args   []string
		code   int
		stderr string
	}{
		{nil, exitUsage, "usage: eid-agent proofs"},
		{[]string{"frob"}, exitUsage, "unknown subcommand"},
		{[]string{"export", "--format", "xml"}, exitUsage, "unknown export format"},
		{[]string{"list", "--since", "yesterday"}, exitUsage, "neither YYYY-MM-DD nor an RFC 3339 time"},
		{[]string{"list", "--support", "6"}, exitUsage, "unknown support type"},
		{[]string{"prune"}, exitUsage, "--retention is required"},
		{[]string{"prune", "--retention", "-3d"}, exitUsage, "positive"},
		{[]string{"list", "--journal", filepath.Join(t.TempDir(), "none.jsonl")}, exitFailure, "no such file"},
	} {
		args := append([]string{"proofs"}, tt.args...)
		if !strings.Contains(strings.Join(tt.args, " "), "--journal") && len(tt.args) > 0 {
			args = append(args, "--journal", path)
		}
		r := runAgent(t, args...)
		if r.code != tt.code || !strings.Contains(r.stderr, tt.stderr) {
			t.Errorf("%v: exit %d, stderr %q; want %d, %q", tt.args, r.code, r.stderr, tt.code, tt.stderr)
		}
	}

	// Listing works while a writer holds the journal; pruning does not.
	j, err := proof.Open(path, proof.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if r := runAgent(t, "proofs", "list", "--journal", path); r.code != 0 || !strings.Contains(r.stdout, "6 proof(s)") {
		t.Errorf("list during a write: exit %d, %q, %q", r.code, r.stdout, r.stderr)
	}
	if r := runAgent(t, "proofs", "prune", "--retention", "1d", "--journal", path); r.code != exitFailure || !strings.Contains(r.stderr, "in use") {
		t.Errorf("prune during a write: exit %d, %q", r.code, r.stderr)
	}
	j.Close()

	// The fixed records date from 2025. A retention of whole hours
	// reaching back to 04:00 UTC on 30 March (plus less than an hour) cuts
	// between the fourth record (03:00 UTC) and the fifth (05:00 UTC).
	hours := int(clock.Now().Sub(time.Date(2025, 3, 30, 4, 0, 0, 0, time.UTC)).Hours())
	r := runAgent(t, "proofs", "prune", "--retention", fmt.Sprintf("%dh", hours), "--journal", path)
	if r.code != 0 || !strings.HasPrefix(r.stdout, "removed 4 proof(s) read before 2025-03-30T0") {
		t.Fatalf("prune: exit %d, %q, %q", r.code, r.stdout, r.stderr)
	}
	left := journalRecords(t, path)
	if len(left) != 2 || left[0].ID != "0000000000000005" || left[1].ID != "0000000000000006" {
		t.Errorf("left %+v", left)
	}
	r = runAgent(t, "proofs", "prune", "--retention", "1d", "--journal", path)
	if r.code != 0 || !strings.HasPrefix(r.stdout, "removed 2 ") {
		t.Errorf("second prune: %q", r.stdout)
	}
	if got := journalRecords(t, path); len(got) != 0 {
		t.Errorf("retention 1d kept 2025 records: %d", len(got))
	}
}

// readWithProof is the `read --json --proof` answer: the reading's members
// plus "proof".
type readWithProof struct {
	eidfile.Reading
	Proof proof.Record `json:"proof"`
}

// TestReadProof reads virtual cards through the lab with --proof: the
// proof carries the card's number, the national number, the document
// dates and verdicts, goes to the journal, and a foreigner card is support
// type 2.
func TestReadProof(t *testing.T) {
	slots := lab.Slots(t)
	p, err := virtual.LoadDump(dumpDir(t, "alice-v11-rsa"))
	if err != nil {
		t.Fatal(err)
	}
	insertCard(t, slots[0], p)
	root := writeRoot(t, p.PKI.Root.Raw)
	journal := filepath.Join(t.TempDir(), "proofs.jsonl")
	before := clock.Now().Truncate(time.Second)

	r := runAgent(t, "read", "--reader", slots[0].Reader, "--json", "--proof", "--no-photo", "--trust-root", root, "--journal", journal)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var out readWithProof
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatal(err)
	}
	pr, c := out.Proof, out.Card
	if pr.SupportType != proof.SupportEID || pr.InputType != proof.InputChip || pr.ManualReason != "" ||
		pr.SerialNumber != c.CardNumber || c.CardNumber == "" || pr.SSIN != out.Identity.NationalNumber ||
		pr.DocumentType != c.DocumentType || pr.ValidFrom != c.ValidFrom || pr.ValidUntil != c.ValidUntil ||
		pr.ChipNumber != c.ChipNumber || pr.Reader != slots[0].Reader || pr.Integrity != proof.IntegrityVerified ||
		pr.Validity != proof.ValidityOn(clock.Now(), c.ValidFrom, c.ValidUntil) || pr.ReadAt.Before(before) {
		t.Errorf("proof %+v\nof card %+v", pr, c)
	}
	// The Alice test card's number has valid check digits but month 71:
	// not an SSIN of either kind, and the proof says so by leaving ssinKind out.
	if out.Identity.NationalNumber != "71715100070" || pr.SSINKind != "" {
		t.Errorf("national number %s, kind %q", out.Identity.NationalNumber, pr.SSINKind)
	}
	if pr.Validity == proof.DocumentExpired && !strings.Contains(r.stderr, "warning: the document had expired") {
		t.Errorf("no expiry warning: %q", r.stderr)
	}
	recs := journalRecords(t, journal)
	if len(recs) != 1 || !reflect.DeepEqual(recs[0], pr) || pr.Caller != proof.CallerCLI {
		t.Errorf("journal %+v, printed %+v", recs, pr)
	}

	// Text output.
	r = runAgent(t, "read", "--reader", slots[0].Reader, "--proof", "--trust-root", root, "--journal", journal)
	if r.code != 0 || !strings.Contains(r.stdout, "support 1 (Belgian eID), input 1 (chip)") || !strings.Contains(r.stdout, "Journal") {
		t.Errorf("text: exit %d, %q, %q", r.code, r.stdout, r.stderr)
	}
	if r := runAgent(t, "read", "--reader", slots[0].Reader, "--proof", "--xml"); r.code != exitUsage {
		t.Errorf("--proof --xml: exit %d", r.code)
	}
	// Without --proof the output has no proof and nothing is journaled.
	r = runAgent(t, "read", "--reader", slots[0].Reader, "--json", "--trust-root", root, "--journal", journal)
	if r.code != 0 || strings.Contains(r.stdout, `"proof"`) {
		t.Errorf("plain read: exit %d, has proof: %v", r.code, strings.Contains(r.stdout, `"proof"`))
	}
	if n := len(journalRecords(t, journal)); n != 2 {
		t.Errorf("%d records, want 2", n)
	}

	// A foreigner card: support type 2; --no-journal leaves the journal alone.
	fp, err := virtual.Preset("foreigner-1.8")
	if err != nil {
		t.Fatal(err)
	}
	insertCard(t, slots[1], fp)
	r = runAgent(t, "read", "--reader", slots[1].Reader, "--json", "--proof", "--no-journal", "--trust-root", writeRoot(t, fp.PKI.Root.Raw))
	out = readWithProof{}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || r.code != 0 {
		t.Fatalf("foreigner: exit %d, %v, %s", r.code, err, r.stderr)
	}
	if out.Proof.SupportType != proof.SupportForeignerCard || out.Proof.DocumentType != out.Card.DocumentType || out.Proof.SSINKind == "" {
		t.Errorf("foreigner proof %+v", out.Proof)
	}
	if n := len(journalRecords(t, journal)); n != 2 {
		t.Errorf("--no-journal appended: %d records", n)
	}
	if _, err := os.Stat(journal); err != nil {
		t.Fatal(err)
	}
}
