package proof

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/eid-agent/eid-agent/internal/testkit"
	"github.com/eid-agent/eid-agent/ssin"
)

func openT(t *testing.T, path string, opts Options) *Journal {
	t.Helper()
	j, err := Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	return j
}

// sample returns n distinct valid records, one hour apart.
func sample(n int) []Record {
	ssins := []string{"85073003328", "17073003384", "12060105317", "98472899765", "01490700185"}
	var out []Record
	for i := 0; i < n; i++ {
		r := validRecord()
		r.ID = fmt.Sprintf("%016x", i+1)
		r.ReadAt = at("2025-03-29 22:00:00").Add(time.Duration(i) * time.Hour)
		r.SSIN = ssins[i%len(ssins)]
		if n, err := ssin.Parse(r.SSIN); err == nil {
			r.SSINKind = n.Kind.String()
		}
		if i%3 == 1 {
			r.InputType, r.ManualReason, r.SerialNumber = InputManual, ReasonNoChip, ""
		}
		if i%4 == 2 {
			r.SupportType, r.InputType, r.ManualReason = SupportEID, InputChip, ""
			r.SerialNumber, r.DocumentType, r.ValidFrom, r.ValidUntil = "592000155079", 1, "2021-03-01", "2031-03-01"
			r.Validity, r.ChipNumber, r.Reader, r.Integrity = DocumentValid, "534C494E33660012", "Virtual PCD 00 00", IntegrityVerified
		}
		if i == 2 {
			// Read for a caller that asked for the card and identity only.
			r.Integrity, r.NotChecked = IntegrityPartial, []string{"address", "photo", "chipAuthentication"}
		}
		// Callers: a web origin, the CLI, and none (a record written
		// before callers were recorded).
		r.Caller = []string{"https://a.example", CallerCLI, ""}[i%3]
		if i == 6 {
			// A read of the card alone: its caller never had the SSIN.
			r.Fields = []string{"card"}
		}
		if i == 4 {
			r.RawScan = "]C0" + r.SSIN + "\r"
			r.Reader = "=cmd|' /C calc'!A0" // a hostile reader name, for the CSV export
		}
		out = append(out, r)
	}
	return out
}

func TestAppendQueryReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state", "eid-agent", "proofs.jsonl")
	j := openT(t, path, Options{})
	recs := sample(8)
	for _, r := range recs {
		got, err := j.Append(r)
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != r.ID {
			t.Fatalf("ID changed: %s", got.ID)
		}
	}
	noID := validRecord()
	got, err := j.Append(noID)
	if err != nil || len(got.ID) != 16 {
		t.Fatalf("Append without ID: %+v, %v", got, err)
	}
	if _, err := j.Append(Record{}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("invalid record: %v", err)
	}

	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("journal mode %v, %v", st.Mode(), err)
	}
	if st, _ := os.Stat(filepath.Dir(path)); st.Mode().Perm() != 0o700 {
		t.Errorf("directory mode %v", st.Mode())
	}
	b, _ := os.ReadFile(path)
	if n := bytes.Count(b, []byte("\n")); n != 9 {
		t.Errorf("%d lines, want 9", n)
	}

	all, err := j.Query(Query{})
	if err != nil || len(all) != 9 {
		t.Fatalf("Query all: %d, %v", len(all), err)
	}
	for i, r := range recs {
		if !reflect.DeepEqual(all[i], r) {
			t.Errorf("record %d:\n%+v\nwant\n%+v", i, all[i], r)
		}
	}
	for _, tt := range []struct {
		name string
		q    Query
		want []string // IDs
	}{
		{"since", Query{Since: recs[6].ReadAt}, []string{recs[6].ID, recs[7].ID, got.ID}},
		{"until", Query{Until: recs[2].ReadAt}, []string{recs[0].ID, recs[1].ID}},
		{"window", Query{Since: recs[2].ReadAt, Until: recs[4].ReadAt}, []string{recs[2].ID, recs[3].ID}},
		{"ssin punctuated", Query{SSIN: "17.07.30-033.84"}, []string{recs[1].ID, recs[6].ID, got.ID}},
		{"support eID", Query{Support: SupportEID}, []string{recs[2].ID, recs[6].ID}},
		{"combined", Query{Support: SupportISIPlus, SSIN: "85073003328"}, []string{recs[0].ID, recs[5].ID}},
		{"none", Query{SSIN: "00000000000"}, nil},
		{"caller", Query{Caller: "https://a.example"}, []string{recs[0].ID, recs[3].ID}},
		{"caller and ssin", Query{Caller: CallerCLI, SSIN: "17073003384"}, []string{recs[1].ID}},
		{"unknown caller", Query{Caller: "https://b.example"}, nil},
	} {
		res, err := j.Query(tt.q)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, r := range res {
			ids = append(ids, r.ID)
		}
		if strings.Join(ids, ",") != strings.Join(tt.want, ",") {
			t.Errorf("%s: got %v, want %v", tt.name, ids, tt.want)
		}
	}

	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := j.Append(validRecord()); !errors.Is(err, ErrClosed) {
		t.Errorf("append after close: %v", err)
	}
	j2 := openT(t, path, Options{})
	again, err := j2.Query(Query{})
	if err != nil || len(again) != 9 || j2.Dropped() != 0 {
		t.Fatalf("reopen: %d records, %v, dropped %d", len(again), err, j2.Dropped())
	}
}

// TestLock: a second writer is refused while the first holds the journal,
// in this process and in another one, and admitted after Close.
func TestLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "proofs.jsonl")
	j := openT(t, path, Options{})
	_, err := Open(path, Options{})
	var je *JournalError
	if !errors.Is(err, ErrLocked) || !errors.As(err, &je) || je.Op != "open" {
		t.Fatalf("second Open: %v", err)
	}
	// The same from another process: flock is per open file, the child
	// opens its own.
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "PROOF_LOCK_CHILD="+path)
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "LOCKED") {
		t.Errorf("child: %v\n%s", err, out)
	}
	// Readers need no lock.
	ro := openT(t, path, Options{ReadOnly: true})
	if _, err := ro.Append(validRecord()); !errors.Is(err, ErrReadOnly) {
		t.Errorf("read-only append: %v", err)
	}
	if _, err := ro.PruneBefore(time.Now()); !errors.Is(err, ErrReadOnly) {
		t.Errorf("read-only prune: %v", err)
	}
	j.Close()
	openT(t, path, Options{})
}

// TestTornTail writes each kind of damage a crash or power cut can leave
// after good records; Open keeps every good record and cuts the rest.
func TestTornTail(t *testing.T) {
	recs := sample(3)
	for _, tt := range []struct {
		name string
		tail string
	}{
		{"half a line", `{"id":"0000000000000009","readAt":"2025-03-30T0`},
		{"whole record without newline", mustLine(t, validRecord())[:len(mustLine(t, validRecord()))-1]},
		{"zeros of an unwritten block", strings.Repeat("\x00", 300)},
		{"zeros ending in a newline", strings.Repeat("\x00", 40) + "\n"},
		{"garbage line then partial", "not json\n{\"id\":"},
		{"empty line", "\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "proofs.jsonl")
			good := writeRecords(t, path, recs)
			appendRaw(t, path, tt.tail)
			j := openT(t, path, Options{})
			if j.Dropped() != int64(len(tt.tail)) {
				t.Errorf("Dropped = %d, want %d", j.Dropped(), len(tt.tail))
			}
			if b, _ := os.ReadFile(path); string(b) != good {
				t.Errorf("file after recovery:\n%q\nwant\n%q", b, good)
			}
			got, err := j.Query(Query{})
			if err != nil || len(got) != 3 {
				t.Fatalf("%d records, %v", len(got), err)
			}
			// The next record starts on a line of its own.
			if _, err := j.Append(validRecord()); err != nil {
				t.Fatal(err)
			}
			j.Close()
			if n := len(queryAll(t, path)); n != 4 {
				t.Errorf("%d records after append, want 4", n)
			}
		})
	}
}

// TestReadOnlyIgnoresInFlightLine: a reader that meets a line being
// written neither fails nor changes the file.
func TestReadOnlyIgnoresInFlightLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "proofs.jsonl")
	writeRecords(t, path, sample(2))
	appendRaw(t, path, `{"id":"00`)
	before, _ := os.ReadFile(path)
	ro := openT(t, path, Options{ReadOnly: true})
	got, err := ro.Query(Query{})
	if err != nil || len(got) != 2 {
		t.Fatalf("%d records, %v", len(got), err)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Error("a read-only open changed the file")
	}
	if _, err := Open(filepath.Join(t.TempDir(), "absent.jsonl"), Options{ReadOnly: true}); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("read-only open of a missing journal: %v", err)
	}
}

// TestCorruptMiddle: a bad line with good records after it is not a torn
// write; Open refuses the file and leaves it as it is.
func TestCorruptMiddle(t *testing.T) {
	path := filepath.Join(t.TempDir(), "proofs.jsonl")
	recs := sample(3)
	writeRecords(t, path, recs[:1])
	appendRaw(t, path, "{\"id\": broken}\n")
	appendRaw(t, path, mustLine(t, recs[1])+mustLine(t, recs[2]))
	before, _ := os.ReadFile(path)
	_, err := Open(path, Options{})
	var je *JournalError
	if !errors.Is(err, ErrCorrupt) || !errors.As(err, &je) || je.Line != 2 {
		t.Fatalf("Open = %v, want ErrCorrupt on line 2", err)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Error("Open changed a corrupt journal")
	}
	ro := openT(t, path, Options{ReadOnly: true})
	if _, err := ro.Query(Query{}); !errors.Is(err, ErrCorrupt) {
		t.Errorf("read-only query: %v", err)
	}
}

func TestPrune(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "proofs.jsonl")
	recs := sample(6)
	writeRecords(t, path, recs)
	before, _ := os.ReadFile(path)
	lines := strings.SplitAfter(string(before), "\n")

	j := openT(t, path, Options{Retention: 3 * time.Hour})
	// now = the last record + 1h: keep read at or after recs[5]-2h = recs[3].
	n, err := j.Prune(recs[5].ReadAt.Add(time.Hour))
	if err != nil || n != 3 {
		t.Fatalf("Prune = %d, %v", n, err)
	}
	if after, _ := os.ReadFile(path); string(after) != strings.Join(lines[3:], "") {
		t.Errorf("kept lines are not the original bytes:\n%s", after)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Errorf("mode after prune %v", st.Mode())
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("temporary file left behind: %v", entries)
	}
	// The journal goes on in the new file, still locked against others.
	if _, err := Open(path, Options{}); !errors.Is(err, ErrLocked) {
		t.Errorf("after prune, second Open: %v", err)
	}
	if _, err := j.Append(validRecord()); err != nil {
		t.Fatal(err)
	}
	if got, _ := j.Query(Query{}); len(got) != 4 || got[0].ID != recs[3].ID {
		t.Errorf("after prune and append: %d records", len(got))
	}
	if n, err := j.Prune(recs[5].ReadAt.Add(time.Hour)); n != 0 || err != nil {
		t.Errorf("second prune = %d, %v", n, err)
	}
	if n, err := openT(t, filepath.Join(dir, "other.jsonl"), Options{}).Prune(time.Now()); n != 0 || err != nil {
		t.Errorf("no retention: %d, %v", n, err)
	}
	j.Close()
	if got := queryAll(t, path); len(got) != 4 {
		t.Errorf("after reopen: %d records", len(got))
	}
}

func TestExportGolden(t *testing.T) {
	path := filepath.Join(t.TempDir(), "proofs.jsonl")
	writeRecords(t, path, sample(6))
	j := openT(t, path, Options{ReadOnly: true})
	for _, tt := range []struct {
		f    Format
		q    Query
		file string
	}{
		{FormatJSONL, Query{}, "export.jsonl.golden"},
		{FormatCSV, Query{}, "export.csv.golden"},
		{FormatCSV, Query{Support: SupportEID}, "export-eid.csv.golden"},
	} {
		var buf bytes.Buffer
		if err := j.Export(&buf, tt.f, tt.q); err != nil {
			t.Fatal(err)
		}
		testkit.Golden(t, filepath.Join("testdata", tt.file), buf.Bytes())
	}
	// The JSON lines export is the journal's own format.
	var buf bytes.Buffer
	j.Export(&buf, FormatJSONL, Query{})
	if b, _ := os.ReadFile(path); !bytes.Equal(b, buf.Bytes()) {
		t.Error("JSONL export differs from the journal")
	}
	if _, err := ParseFormat("xml"); !errors.Is(err, ErrInvalid) {
		t.Errorf("ParseFormat(xml): %v", err)
	}
	if f, err := ParseFormat("CSV"); f != FormatCSV || err != nil {
		t.Errorf("ParseFormat(CSV) = %q, %v", f, err)
	}
}

func TestDefaultPath(t *testing.T) {
	t.Setenv("XDG_STATE_HOME", "/var/state")
	if p, _ := DefaultPath(); p != "/var/state/eid-agent/proofs.jsonl" {
		t.Errorf("with XDG_STATE_HOME: %s", p)
	}
	t.Setenv("XDG_STATE_HOME", "relative") // ignored, as the XDG specification says
	t.Setenv("HOME", "/home/clerk")
	if p, _ := DefaultPath(); p != "/home/clerk/.local/state/eid-agent/proofs.jsonl" {
		t.Errorf("without: %s", p)
	}
}

// TestCrashKill9 appends in a child process and kills it with SIGKILL in
// the middle: after reopening, every record the child saw acknowledged is
// there, in order, and at most the one in flight is missing.
func TestCrashKill9(t *testing.T) {
	path := filepath.Join(t.TempDir(), "proofs.jsonl")
	total := 0 // records in the journal after the previous round
	for round := 0; round < 3; round++ {
		cmd := exec.Command(os.Args[0])
		cmd.Env = append(os.Environ(), "PROOF_CRASH_CHILD="+path)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(stdout)
		var acked []string
		for len(acked) < 150+round*50 && sc.Scan() {
			if id, ok := strings.CutPrefix(sc.Text(), "ACK "); ok {
				acked = append(acked, id)
			}
		}
		if len(acked) == 0 {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatal("the child acknowledged nothing")
		}
		// While the child lives, the journal is locked against us.
		if _, err := Open(path, Options{}); !errors.Is(err, ErrLocked) {
			t.Errorf("journal not locked by the child: %v", err)
		}
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		// Every ACK the child printed before it died.
		for sc.Scan() {
			if id, ok := strings.CutPrefix(sc.Text(), "ACK "); ok {
				acked = append(acked, id)
			}
		}
		cmd.Wait()

		j, err := Open(path, Options{})
		if err != nil {
			t.Fatalf("reopen after SIGKILL: %v", err)
		}
		got, err := j.Query(Query{})
		j.Close()
		if err != nil {
			t.Fatal(err)
		}
		ids := map[string]int{}
		for i, r := range got {
			if _, dup := ids[r.ID]; dup {
				t.Fatalf("record %s twice", r.ID)
			}
			ids[r.ID] = i
		}
		last := total - 1
		for _, id := range acked {
			i, ok := ids[id]
			if !ok {
				t.Fatalf("round %d: acknowledged record %s lost", round, id)
			}
			if i != last+1 {
				t.Fatalf("round %d: record %s at %d, want %d", round, id, i, last+1)
			}
			last = i
		}
		// Besides the acknowledged ones, at most the record in flight when
		// the child died: written and synced, but its ACK not printed.
		if extra := len(got) - total - len(acked); extra != 0 && extra != 1 {
			t.Fatalf("round %d: %d unacknowledged records", round, extra)
		}
		total = len(got)
		t.Logf("round %d: %d acknowledged this round, %d records in the journal", round, len(acked), len(got))
	}
}

// TestMain runs the helper processes of TestLock and TestCrashKill9 when
// the test binary is started with their environment variable.
func TestMain(m *testing.M) {
	if path := os.Getenv("PROOF_LOCK_CHILD"); path != "" {
		_, err := Open(path, Options{})
		if errors.Is(err, ErrLocked) {
			fmt.Println("LOCKED")
			os.Exit(1)
		}
		fmt.Println("not locked:", err)
		os.Exit(0)
	}
	if path := os.Getenv("PROOF_CRASH_CHILD"); path != "" {
		crashChild(path)
	}
	os.Exit(m.Run())
}

// crashChild appends records in a loop, printing each ID once Append (and
// so fsync) has returned, until it is killed.
func crashChild(path string) {
	j, err := Open(path, Options{})
	if err != nil {
		fmt.Println("OPEN", err)
		os.Exit(1)
	}
	base := validRecord()
	for i := 0; ; i++ {
		base.ID = ""
		base.RawScan = strconv.Itoa(i) + strings.Repeat("~", i%700) // lines of varying length
		r, err := j.Append(base)
		if err != nil {
			fmt.Println("ERR", err)
			os.Exit(1)
		}
		fmt.Println("ACK", r.ID)
	}
}

func mustLine(t *testing.T, r Record) string {
	t.Helper()
	b, err := r.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	return string(b) + "\n"
}

// writeRecords writes recs through a journal and returns the file.
func writeRecords(t *testing.T, path string, recs []Record) string {
	t.Helper()
	j, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if _, err := j.Append(r); err != nil {
			t.Fatal(err)
		}
	}
	j.Close()
	b, _ := os.ReadFile(path)
	return string(b)
}

func appendRaw(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(s)
	f.Close()
}

func queryAll(t *testing.T, path string) []Record {
	t.Helper()
	j, err := Open(path, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	got, err := j.Query(Query{})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// TestConcurrentAppend: appends from several goroutines, with queries in
// between, give whole lines only.
func TestConcurrentAppend(t *testing.T) {
	path := filepath.Join(t.TempDir(), "proofs.jsonl")
	j := openT(t, path, Options{})
	done := make(chan error)
	for g := 0; g < 4; g++ {
		go func() {
			for i := 0; i < 25; i++ {
				r := validRecord()
				r.RawScan = strings.Repeat("x", 100*g+i)
				if _, err := j.Append(r); err != nil {
					done <- err
					return
				}
				if _, err := j.Query(Query{}); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
	}
	for g := 0; g < 4; g++ {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	j.Close()
	if got := queryAll(t, path); len(got) != 100 {
		t.Errorf("%d records, want 100", len(got))
	}
}

// TestJournalPrivate: a journal others could read is made private again
// when it is opened for writing (it holds national numbers).
func TestJournalPrivate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "proofs.jsonl")
	j := openT(t, path, Options{})
	j.Close()
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	j = openT(t, path, Options{})
	defer j.Close()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
}
