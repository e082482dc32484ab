package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/eid-agent/eid-agent/internal/clock"

	"golang.org/x/sys/unix"

	"github.com/eid-agent/eid-agent/proof"
)

// isiOut is the --json answer of `eid-agent isi`.
type isiOut struct {
	SSIN          string       `json:"ssin"`
	SSINKind      string       `json:"ssinKind"`
	BirthDate     string       `json:"birthDate"`
	Gender        string       `json:"gender"`
	CardNumber    string       `json:"cardNumber"`
	LastName      string       `json:"lastName"`
	FirstName     string       `json:"firstName"`
	InputType     string       `json:"inputType"`
	Raw           string       `json:"raw"`
	Layout        string       `json:"layout"`
	Uninterpreted []string     `json:"uninterpreted"`
	Proof         proof.Record `json:"proof"`
}

// runAgentEnv runs the binary with extra environment variables.
func runAgentEnv(t *testing.T, env []string, args ...string) result {
	t.Helper()
	return execAgent(t, append(os.Environ(), env...), "", 30*time.Second, args...)
}

func journalRecords(t *testing.T, path string) []proof.Record {
	t.Helper()
	j, err := proof.Open(path, proof.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	recs, err := j.Query(proof.Query{})
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

func TestISIScanAndManual(t *testing.T) {
	dir := t.TempDir()
	journal := filepath.Join(dir, "proofs.jsonl")
	before := clock.Now().Truncate(time.Second)

	// A keyboard-wedge scan typed through a QWERTY/AZERTY mismatch, with a
	// card number and the Enter the scanner ends with.
	raw := `$Cà!(àè"àà""é! (ç&éà&àççççè` + "\r" // "]C085073003328 591201099997" typed by a QWERTY scanner into AZERTY
	r := runAgent(t, "isi", "--scan", raw, "--json", "--journal", journal)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var out isiOut
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("%v: %s", err, r.stdout)
	}
	p := out.Proof
	if out.SSIN != "85073003328" || out.SSINKind != "NN" || out.BirthDate != "1985-07-30" || out.Gender != "male" ||
		out.Layout != "qwerty-on-azerty" || out.Raw != raw || out.CardNumber != "591201099997" || p.SerialNumber != "591201099997" || p.SupportType != "4" || p.InputType != "2" ||
		p.ManualReason != "" || p.SSIN != "85073003328" || p.ReadAt.Before(before) || p.ReadAt.Location() != proof.Brussels {
		t.Errorf("scan output %+v", out)
	}
	if !strings.Contains(r.stdout, `"readAt":"`+p.ReadAt.Format(time.RFC3339)+`"`) || !strings.Contains(r.stdout, "+0") {
		t.Errorf("readAt is not RFC 3339 with the Brussels offset: %s", r.stdout)
	}
	// Typed entry with every field.
	r = runAgent(t, "isi", "--manual", "--ssin", "17.07.30-033.84", "--reason", "2", "--card-number", "601234567890",
		"--last-name", "Peeters", "--first-name", "Zoë", "--birth-date", "2017-07-30", "--json", "--journal", journal)
	if r.code != 0 {
		t.Fatalf("manual: exit %d: %s", r.code, r.stderr)
	}
	out = isiOut{}
	json.Unmarshal([]byte(r.stdout), &out)
	p = out.Proof
	if out.SSIN != "17073003384" || out.LastName != "Peeters" || out.FirstName != "Zoë" || out.CardNumber != "601234567890" ||
		p.InputType != "4" || p.ManualReason != "2" || p.SerialNumber != "601234567890" || r.stderr != "" {
		t.Errorf("manual output %+v, stderr %q", out, r.stderr)
	}
	// Without the card number: journaled, with a warning.
	r = runAgent(t, "isi", "--manual", "--ssin", "98472899765", "--reason", "3", "--journal", journal)
	if r.code != 0 || !strings.Contains(r.stderr, "warning: no support serial number") || !strings.Contains(r.stdout, "reason 3 (card reader unavailable)") {
		t.Errorf("manual without card number: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}

	recs := journalRecords(t, journal)
	if len(recs) != 3 || recs[0].RawScan != raw || recs[1].ManualReason != "2" || recs[2].SSINKind != "BIS" {
		t.Fatalf("journal: %+v", recs)
	}
	// What --json printed is what was journaled, made by the CLI.
	if !reflect.DeepEqual(recs[1], p) || p.Caller != proof.CallerCLI {
		t.Errorf("journaled %+v, printed %+v", recs[1], p)
	}
}

func TestISIErrors(t *testing.T) {
	dir := t.TempDir()
	journal := filepath.Join(dir, "proofs.jsonl")
	for _, tt := range []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"bad check digits", []string{"--scan", "85073003329"}, exitFailure, "not a valid SSIN: check digits 29"},
		{"no SSIN", []string{"--scan", "hello"}, exitFailure, "no 11-digit number"},
		{"control character", []string{"--scan", "8507\x1b3003328"}, exitFailure, "control character U+001B"},
		{"garbage", []string{"--scan", `&é"'(§`}, exitFailure, "keyboard-layout mismatch"},
		{"manual bad SSIN", []string{"--manual", "--ssin", "85073003329", "--reason", "2"}, exitFailure, "manual entry: ssin: check digits"},
		{"manual bad birth date", []string{"--manual", "--ssin", "85073003328", "--reason", "2", "--birth-date", "1985-07-31"}, exitFailure, "birthDate"},
		{"no mode", nil, exitUsage, "exactly one of"},
		{"two modes", []string{"--scan", "85073003328", "--manual"}, exitUsage, "exactly one of"},
		{"manual without reason", []string{"--manual", "--ssin", "85073003328"}, exitUsage, "--manual needs --ssin and --reason"},
		{"reason 1", []string{"--manual", "--ssin", "85073003328", "--reason", "1"}, exitUsage, "cannot justify a manual entry"},
		{"reason 9", []string{"--manual", "--ssin", "85073003328", "--reason", "9"}, exitUsage, "not a manual-entry reason"},
		{"ssin without manual", []string{"--scan", "85073003328", "--ssin", "85073003328"}, exitUsage, "--ssin goes with --manual"},
		{"qr without scan", []string{"--manual", "--ssin", "85073003328", "--reason", "2", "--qr"}, exitUsage, "--qr goes with --scan"},
		{"stray argument", []string{"--scan", "85073003328", "extra"}, exitUsage, "unexpected argument"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := runAgent(t, append([]string{"isi", "--journal", journal}, tt.args...)...)
			if r.code != tt.code || !strings.Contains(r.stderr, tt.stderr) {
				t.Errorf("exit %d, stderr %q; want %d and %q", r.code, r.stderr, tt.code, tt.stderr)
			}
			if tt.code == exitFailure && strings.Count(r.stderr, "\n") != 1 {
				t.Errorf("want one line on stderr, got %q", r.stderr)
			}
		})
	}
	if _, err := os.Stat(journal); err == nil {
		if recs := journalRecords(t, journal); len(recs) != 0 {
			t.Errorf("refused readings were journaled: %+v", recs)
		}
	}
}

func TestISIJournalLocation(t *testing.T) {
	state := t.TempDir()
	r := runAgentEnv(t, []string{"XDG_STATE_HOME=" + state}, "isi", "--scan", "]Q112060105346")
	def := filepath.Join(state, "eid-agent", "proofs.jsonl")
	if r.code != 0 || !strings.Contains(r.stdout, def) || !strings.Contains(r.stdout, "input 3 (QR code)") {
		t.Fatalf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if recs := journalRecords(t, def); len(recs) != 1 || recs[0].SSIN != "12060105346" {
		t.Errorf("default journal: %+v", recs)
	}
	// --no-journal writes nothing.
	other := t.TempDir()
	r = runAgentEnv(t, []string{"XDG_STATE_HOME=" + other}, "isi", "--scan", "12060105346", "--no-journal", "--qr")
	if r.code != 0 || strings.Contains(r.stdout, "Journal") || !strings.Contains(r.stdout, "input 3") {
		t.Errorf("--no-journal: exit %d, %q", r.code, r.stdout)
	}
	if entries, _ := os.ReadDir(other); len(entries) != 0 {
		t.Errorf("--no-journal created %v", entries)
	}
	// A journal held by another writer (a running agent) is refused clearly.
	j, err := proof.Open(def, proof.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	r = runAgentEnv(t, []string{"XDG_STATE_HOME=" + state}, "isi", "--scan", "12060105346")
	if r.code != exitFailure || !strings.Contains(r.stderr, "in use by another writer") {
		t.Errorf("locked journal: exit %d, %q", r.code, r.stderr)
	}
}

// openPTY makes a pseudo-terminal pair: the master is the virtual
// scanner, the slave the tty the agent reads, like /dev/ttyACM0.
func openPTY(t *testing.T) (*os.File, string) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("no pseudo-terminals: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetUint32(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	return m, fmt.Sprintf("/dev/pts/%d", n)
}

// TestISIDevice runs `isi --device` on a virtual serial scanner (a pty),
// feeds it scans, and stops it with SIGINT.
func TestISIDevice(t *testing.T) {
	master, tty := openPTY(t)
	journal := filepath.Join(t.TempDir(), "proofs.jsonl")
	cmd := exec.Command(binary, "isi", "--device", tty, "--json", "--journal", journal)
	stdout, _ := cmd.StdoutPipe()
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	errLines := make(chan string, 10)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			errLines <- sc.Text()
		}
		close(errLines)
	}()
	wantErrLine := func(want string) {
		t.Helper()
		select {
		case l := <-errLines:
			if !strings.Contains(l, want) {
				t.Fatalf("stderr %q, want %q", l, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no %q on stderr", want)
		}
	}
	wantErrLine("scanner " + tty + " ready")

	master.WriteString("85073003328\r\n")
	master.WriteString("85073003329\r") // refused, reading goes on
	master.WriteString("]d2" + "17073003384\x1d601234567890\r")
	lines := bufio.NewScanner(stdout)
	var outs []isiOut
	for len(outs) < 2 && lines.Scan() {
		var o isiOut
		if err := json.Unmarshal(lines.Bytes(), &o); err != nil {
			t.Fatalf("%v: %s", err, lines.Text())
		}
		outs = append(outs, o)
	}
	wantErrLine("warning: no support serial number") // the first scan has no card number
	wantErrLine("scan refused: ISI+ scan: the 11-digit number is not a valid SSIN")
	if len(outs) != 2 || outs[0].SSIN != "85073003328" || outs[1].SSIN != "17073003384" || outs[1].Proof.Reader != tty {
		t.Fatalf("outputs %+v", outs)
	}

	cmd.Process.Signal(os.Interrupt)
	if err := cmd.Wait(); err != nil {
		t.Errorf("isi --device did not exit cleanly on interrupt: %v", err)
	}
	recs := journalRecords(t, journal)
	if len(recs) != 2 || recs[0].ID != outs[0].Proof.ID || recs[1].RawScan != "]d217073003384\x1d601234567890" {
		t.Errorf("journal %+v", recs)
	}
}
