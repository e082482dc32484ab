package audit

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/eid-agent/eid-agent/internal/testkit"
)

func TestEntryFormatGolden(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	if err := os.WriteFile(path+".key", []byte(strings.Repeat("ab", 32)), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 29, 10, 0, 0, 123456789, time.FixedZone("CET", 3600))
	entries := []Entry{
		{Time: at, Caller: "https://hospital.example", Operation: "read", Fields: []string{"identity", "photo"},
			Reader: "ACS ACR38U 00 00", Card: l.CardHash("592123456789"), Outcome: "ok"},
		{Time: at.Add(time.Second), Caller: "app:billing", Operation: "authenticate", Reader: "ACS ACR38U 00 00",
			Card: l.CardHash("592123456789"), Outcome: "PIN_INCORRECT"},
		{Time: at.Add(2 * time.Second), Caller: "https://hospital.example", Operation: "sign", Outcome: "CONSENT_DENIED"},
	}
	for _, e := range entries {
		if err := l.Write(e); err != nil {
			t.Fatal(err)
		}
	}
	l.Close()
	got, _ := os.ReadFile(path)
	testkit.Golden(t, filepath.Join("testdata", "audit.golden"), got)
	if bytes.Contains(got, []byte("592123456789")) {
		t.Error("the card number is in the journal")
	}
}

func TestCardHashKeyed(t *testing.T) {
	dir := t.TempDir()
	a, err := Open(filepath.Join(dir, "a.jsonl"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Open(filepath.Join(dir, "b.jsonl"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if a.CardHash("592123456789") == b.CardHash("592123456789") {
		t.Error("two installs hash a card alike: the key is not used")
	}
	if a.CardHash("592123456789") == a.CardHash("592123456788") || a.CardHash("") != "" {
		t.Error("hash does not tell cards apart")
	}
	h := a.CardHash("592123456789")
	a.Close()
	a2, err := Open(filepath.Join(dir, "a.jsonl"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if a2.CardHash("592123456789") != h {
		t.Error("the key did not survive a restart")
	}
	st, _ := os.Stat(filepath.Join(dir, "a.jsonl.key"))
	if st.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v", st.Mode().Perm())
	}
	os.WriteFile(filepath.Join(dir, "c.jsonl.key"), []byte("garbage"), 0o600)
	if _, err := Open(filepath.Join(dir, "c.jsonl"), Options{}); err == nil || !strings.Contains(err.Error(), "damaged") {
		t.Errorf("damaged key: %v", err)
	}
}

func TestRotation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	l, err := Open(path, Options{MaxSize: 400, Keep: 2, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 40 {
		if err := l.Write(Entry{Caller: "cli", Operation: "read", Outcome: fmt.Sprint("ok", i)}); err != nil {
			t.Fatal(err)
		}
	}
	l.Close()
	var total int
	for _, name := range []string{path, path + ".1", path + ".2"} {
		es, err := ReadAll(name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		st, _ := os.Stat(name)
		if st.Size() > 400 {
			t.Errorf("%s is %d bytes, over the limit", name, st.Size())
		}
		total += len(es)
	}
	if _, err := os.Stat(path + ".3"); err == nil {
		t.Error("kept more than Keep files")
	}
	last, _ := ReadAll(path)
	if last[len(last)-1].Outcome != "ok39" || total >= 40 || total < 6 {
		t.Errorf("last %v total %d", last[len(last)-1], total)
	}
}

func TestTornTailRepaired(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	l, _ := Open(path, Options{})
	l.Write(Entry{Caller: "cli", Operation: "read", Outcome: "ok"})
	l.Close()
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"time":"2026-11-29T10:00:00Z","caller":"cli","op":"re`)
	f.Close()
	l, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	l.Write(Entry{Caller: "cli", Operation: "sign", Outcome: "ok"})
	l.Close()
	es, err := ReadAll(path)
	if err != nil || len(es) != 2 || es[1].Operation != "sign" {
		t.Fatalf("after repair: %v %+v", err, es)
	}
}

func TestConcurrentWritesAreWholeLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	l, _ := Open(path, Options{NoSync: true})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				l.Write(Entry{Caller: fmt.Sprint("app:", g), Operation: "read", Outcome: fmt.Sprint(i)})
			}
		}()
	}
	wg.Wait()
	l.Close()
	es, err := ReadAll(path)
	if err != nil || len(es) != 400 {
		t.Fatalf("%v, %d entries", err, len(es))
	}
}

// TestKilledWriter kills a process writing entries in a loop (SIGKILL,
// as a power cut would stop it) and checks that the journal reopens with
// every entry whole.
func TestKilledWriter(t *testing.T) {
	if os.Getenv("AUDIT_CHILD") != "" {
		l, err := Open(os.Getenv("AUDIT_CHILD"), Options{MaxSize: 1 << 20})
		if err != nil {
			os.Exit(3)
		}
		for i := 0; ; i++ {
			l.Write(Entry{Caller: "cli", Operation: "read", Fields: []string{strings.Repeat("x", i%300)}, Outcome: fmt.Sprint(i)})
		}
	}
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	for round := range 3 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestKilledWriter$")
		cmd.Env = append(os.Environ(), "AUDIT_CHILD="+path)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(150+round*70) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		l, err := Open(path, Options{MaxSize: 1 << 20})
		if err != nil {
			t.Fatal(err)
		}
		l.Close()
		es, err := ReadAll(path)
		if err != nil {
			t.Fatalf("round %d: journal corrupt after kill: %v", round, err)
		}
		if len(es) == 0 {
			t.Fatalf("round %d: the child wrote nothing", round)
		}
	}
}

// TestPrivateFiles: a journal and key that others could read (a careless
// chmod) are made private again when the log opens.
func TestPrivateFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.jsonl")
	l, err := Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	keys, _ := filepath.Glob(filepath.Join(dir, "*"))
	for _, p := range keys {
		if err := os.Chmod(p, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	l, err = Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for _, p := range keys {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", filepath.Base(p), fi.Mode().Perm())
		}
	}
}
