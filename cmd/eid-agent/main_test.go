package main

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eid-agent/eid-agent/card/eidfile"
	"github.com/eid-agent/eid-agent/internal/clock"
	"github.com/eid-agent/eid-agent/internal/testkit"

	"github.com/eid-agent/eid-agent/internal/lab"
	"github.com/eid-agent/eid-agent/internal/virtual"
	"github.com/eid-agent/eid-agent/internal/vpcd"
)

// The command is tested as a user runs it: the real binary, through pcscd
// and the vpcd virtual reader, with a virtual card inserted.

var binary string

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		os.Exit(runHelper(mode)) // another OS user's process (otheruser_test.go)
	}
	dir, err := os.MkdirTemp("", "eid-agent-bin")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "eid-agent")
	out, err := exec.Command("go", clock.GoBuild("-o", binary, ".")...).CombinedOutput()
	if err != nil {
		panic("building eid-agent: " + err.Error() + "\n" + string(out))
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type result struct {
	stdout, stderr string
	code           int
}

// execAgent runs the built binary with env (nil: the test's own), stdin
// and a time limit, and returns what it printed and its exit status.
func execAgent(t testing.TB, env []string, stdin string, limit time.Duration, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = env
	cmd.Stdin = strings.NewReader(stdin)
	var so, se strings.Builder
	cmd.Stdout, cmd.Stderr = &so, &se
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{so.String(), se.String(), code}
}

func runAgent(t *testing.T, args ...string) result {
	t.Helper()
	return runAgentStdin(t, "", args...)
}

// insertCard puts p in the slot and waits until the agent sees it.
func insertCard(t *testing.T, slot lab.Slot, p *virtual.Profile) {
	t.Helper()
	in, err := vpcd.Insert(context.Background(), slot.Addr, virtual.New(p))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		in.Remove()
		waitReader(t, slot.Reader, "no card")
	})
	waitReader(t, slot.Reader, "Belgian eID")
}

func waitReader(t *testing.T, reader, what string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if r := runAgent(t, "readers"); strings.Contains(r.stdout, reader+": "+what) {
			return
		}
	}
	t.Fatalf("reader %q never showed %q", reader, what)
}

func writeRoot(t *testing.T, der []byte) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "root.pem")
	if err := os.WriteFile(f, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

func dumpDir(t *testing.T, name string) string {
	return filepath.Join(lab.SharedTestdata(t), "cards", name)
}

// TestReadAliceGolden reads the public applet-1.1 test card through the
// whole stack and compares the JSON and XML outputs with golden files.
func TestReadAliceGolden(t *testing.T) {
	slot := lab.Slots(t)[0]
	p, err := virtual.LoadDump(dumpDir(t, "alice-v11-rsa"))
	if err != nil {
		t.Fatal(err)
	}
	insertCard(t, slot, p)
	root := writeRoot(t, p.PKI.Root.Raw)

	r := runAgent(t, "read", "--reader", slot.Reader, "--json", "--trust-root", root)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	// The reader name depends on the lab; the rest is the card.
	out := strings.ReplaceAll(r.stdout, slot.Reader, "READER")
	testkit.Golden(t, filepath.Join("testdata", "alice-v11-rsa.json"), []byte(out))
	var reading eidfile.Reading
	if err := json.Unmarshal([]byte(r.stdout), &reading); err != nil {
		t.Fatal(err)
	}
	if reading.Identity.NationalNumber != "71715100070" || reading.Integrity.RRNChain != eidfile.Trusted {
		t.Errorf("unexpected reading: %+v %+v", reading.Identity, reading.Integrity)
	}

	r = runAgent(t, "read", "--reader", slot.Reader, "--xml", "--trust-root", root)
	if r.code != 0 {
		t.Fatalf("--xml exit %d: %s", r.code, r.stderr)
	}
	testkit.Golden(t, filepath.Join("testdata", "alice-v11-rsa.eid"), []byte(r.stdout))

	r = runAgent(t, "read", "--json", "--no-photo", "--trust-root", root)
	var noPhoto eidfile.Reading
	if err := json.Unmarshal([]byte(r.stdout), &noPhoto); err != nil || r.code != 0 {
		t.Fatalf("--no-photo (only card, no --reader): exit %d, %v, stderr %s", r.code, err, r.stderr)
	}
	if noPhoto.Photo != nil || noPhoto.PhotoSHA256 != reading.PhotoSHA256 || noPhoto.Integrity.Photo != eidfile.Valid {
		t.Errorf("--no-photo: photo %d bytes, sha %q, verdict %q", len(noPhoto.Photo), noPhoto.PhotoSHA256, noPhoto.Integrity.Photo)
	}

	// Without the test root the chain is untrusted: printed, but exit 3.
	r = runAgent(t, "read", "--reader", slot.Reader)
	if r.code != exitIntegrity || !strings.Contains(r.stderr, "RRN chain untrusted") || !strings.Contains(r.stdout, "SPECIMEN") {
		t.Errorf("untrusted: exit %d, stderr %q", r.code, r.stderr)
	}
}

// TestReadTampered serves a copy of the Alice dump with one byte of the
// address changed: the read succeeds, says the address is invalid, and
// exits 3.
func TestReadTampered(t *testing.T) {
	slot := lab.Slots(t)[0]
	src := dumpDir(t, "alice-v11-rsa")
	dir := t.TempDir()
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if e.Name() == "Address.tlv" {
			b[2] ^= 0x01 // "Meirplaats" -> "Ldirplaats"
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	p, err := virtual.LoadDump(dir)
	if err != nil {
		t.Fatal(err)
	}
	insertCard(t, slot, p)
	r := runAgent(t, "read", "--reader", slot.Reader, "--json", "--trust-root", writeRoot(t, p.PKI.Root.Raw))
	if r.code != exitIntegrity {
		t.Fatalf("exit %d, want %d; stderr %s", r.code, exitIntegrity, r.stderr)
	}
	if !strings.Contains(r.stderr, "address invalid") || strings.Contains(r.stderr, "identity invalid") {
		t.Errorf("stderr %q", r.stderr)
	}
	if !strings.Contains(r.stdout, `"address": "invalid"`) {
		t.Errorf("JSON does not report the invalid address")
	}
}

func TestReadersAndErrors(t *testing.T) {
	slots := lab.Slots(t)
	r := runAgent(t, "read", "--reader", slots[0].Reader)
	if r.code != exitFailure || !strings.Contains(r.stderr, "no card in the reader") || strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("empty reader: exit %d, stderr %q", r.code, r.stderr)
	}
	r = runAgent(t, "read", "--reader", "Nonexistent Reader 00 00")
	if r.code != exitFailure || !strings.Contains(r.stderr, "reader not found") {
		t.Errorf("unknown reader: exit %d, stderr %q", r.code, r.stderr)
	}
	r = runAgent(t, "read", "--json", "--xml")
	if r.code != exitUsage {
		t.Errorf("--json --xml: exit %d", r.code)
	}
	r = runAgent(t, "frobnicate")
	if r.code != exitUsage {
		t.Errorf("unknown command: exit %d", r.code)
	}

	p17, err := virtual.Preset("citizen-1.7")
	if err != nil {
		t.Fatal(err)
	}
	kids, err := virtual.Preset("kids-1.8")
	if err != nil {
		t.Fatal(err)
	}
	insertCard(t, slots[0], p17)
	insertCard(t, slots[1], kids)
	r = runAgent(t, "readers")
	for _, want := range []string{slots[0].Reader + ": Belgian eID (applet 1.7)", slots[1].Reader + ": Belgian eID (applet 1.8)"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("readers output lacks %q:\n%s", want, r.stdout)
		}
	}
	r = runAgent(t, "read")
	if r.code != exitFailure || !strings.Contains(r.stderr, "several readers hold a card") {
		t.Errorf("two cards, no --reader: exit %d, stderr %q", r.code, r.stderr)
	}
	// By number, as listed by 'readers'.
	r = runAgent(t, "read", "--reader", "1", "--json", "--trust-root", writeRoot(t, kids.PKI.Root.Raw))
	if r.code != 0 || !strings.Contains(r.stdout, `"documentTypeName": "kids_card"`) || strings.Contains(r.stdout, `"signing"`) {
		t.Errorf("kids card by number: exit %d, stderr %q", r.code, r.stderr)
	}
}

// TestVcardCommand runs the vcard command as the demo does and reads the
// card it inserted.
func TestVcardCommand(t *testing.T) {
	slot := lab.Slots(t)[0]
	root := filepath.Join(t.TempDir(), "root.pem")
	cmd := exec.Command(binary, "vcard", "--profile", "foreigner-1.7", "--vpcd", slot.Addr, "--write-root", root)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	waitReader(t, slot.Reader, "Belgian eID (applet 1.7)")
	r := runAgent(t, "read", "--reader", slot.Reader, "--json", "--trust-root", root)
	if r.code != 0 || !strings.Contains(r.stdout, `"workPermit"`) {
		t.Errorf("foreigner card: exit %d, stderr %q", r.code, r.stderr)
	}
	cmd.Process.Signal(os.Interrupt)
	if err := cmd.Wait(); err != nil {
		t.Errorf("vcard did not exit cleanly on interrupt: %v", err)
	}
	waitReader(t, slot.Reader, "no card")
}

// otherCard is a smart card that is not a Belgian eID (a PIV-like ATR; it
// knows no BELPIC command).
type otherCard struct{}

func (otherCard) ATR() []byte {
	return []byte{0x3B, 0x8F, 0x80, 0x01, 0x80, 0x4F, 0x0C, 0xA0, 0x00, 0x00, 0x03, 0x06, 0x03, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x6A}
}
func (otherCard) PowerOn()                   {}
func (otherCard) PowerOff()                  {}
func (otherCard) Reset()                     {}
func (otherCard) Transmit(cmd []byte) []byte { return []byte{0x6D, 0x00} }

func TestUnknownCard(t *testing.T) {
	slot := lab.Slots(t)[1]
	in, err := vpcd.Insert(context.Background(), slot.Addr, otherCard{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		in.Remove()
		waitReader(t, slot.Reader, "no card")
	})
	waitReader(t, slot.Reader, "unknown card")
	r := runAgent(t, "read", "--reader", slot.Reader)
	if r.code != exitFailure || !strings.Contains(r.stderr, "not a Belgian eID card") {
		t.Errorf("unknown card: exit %d, stderr %q", r.code, r.stderr)
	}
}
