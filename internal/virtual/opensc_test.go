package virtual

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ebfe/scard"

	"github.com/eid-agent/eid-agent/internal/lab"
	"github.com/eid-agent/eid-agent/internal/vpcd"
)

const openscPKCS11 = "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so"

// TestOpenSC checks that OpenSC 0.23's belpic driver and its generic PKCS#15
// layer accept the emulator as a Belgian eID (testing doc §6): an applet-1.7
// RSA citizen card in the last lab slot is recognised, its token and
// certificates are listed, and a login + sign with the authentication key
// gives a signature that verifies with the card's certificate.
func TestOpenSC(t *testing.T) {
	slots := lab.Slots(t)
	for _, bin := range []string{"opensc-tool", "pkcs11-tool"} {
		if _, err := exec.LookPath(bin); err != nil {
			lab.Require(t, bin+" is not installed (scripts/pcsc-lab install)")
		}
	}
	if _, err := os.Stat(openscPKCS11); err != nil {
		lab.Require(t, "OpenSC PKCS#11 module not installed: "+err.Error())
	}
	// The last slot: other tests start from the first ones.
	slot := slots[len(slots)-1]
	p, err := Preset("citizen-1.7")
	if err != nil {
		t.Fatal(err)
	}
	card := New(p)

	ctx, err := scard.EstablishContext()
	if err != nil {
		lab.Require(t, "no PC/SC service: "+err.Error())
	}
	defer ctx.Release()
	lab.WaitCard(t, ctx, slot.Reader, false)
	in, err := vpcd.Insert(t.Context(), slot.Addr, card)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Remove()
	lab.WaitCard(t, ctx, slot.Reader, true)

	// OpenSC scans every reader; an opensc.conf that ignores all others
	// keeps it off the cards of tests running in parallel.
	readers, err := ctx.ListReaders()
	if err != nil {
		t.Fatal(err)
	}
	var ignored []string
	for _, r := range readers {
		if r != slot.Reader {
			ignored = append(ignored, fmt.Sprintf("%q", r))
		}
	}
	dir := t.TempDir()
	writeConf := func(name, extra string) string {
		conf := "app default {\n"
		if len(ignored) > 0 {
			conf += "\tignored_readers = " + strings.Join(ignored, ", ") + ";\n"
		}
		conf += extra + "}\n"
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	conf := writeConf("opensc.conf", "")
	// The Belpic CDF flags the certificates private (authId = Basic PIN), as
	// the real card does, so OpenSC's default "protect" policy lists them
	// only after login; "declassify" lists them without.
	declassified := writeConf("declassify.conf", "\tframework pkcs15 { private_certificate = declassify; }\n")

	openscRun := func(conf string, args ...string) (string, error) {
		cmd := exec.CommandContext(t.Context(), args[0], args[1:]...)
		cmd.Env = append(os.Environ(), "OPENSC_CONF="+conf)
		start := time.Now()
		out, err := cmd.CombinedOutput()
		t.Logf("%s (%v)", strings.Join(args, " "), time.Since(start).Round(time.Millisecond))
		return string(out), err
	}
	mustRun := func(conf string, args ...string) string {
		t.Helper()
		out, err := openscRun(conf, args...)
		if err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}

	if out := mustRun(conf, "opensc-tool", "-r", slot.Reader, "-n"); !strings.Contains(out, "Belpic cards") {
		t.Fatalf("opensc-tool -n: %q", out)
	}

	list := mustRun(conf, "pkcs11-tool", "--module", openscPKCS11, "-L")
	m := regexp.MustCompile(`Slot \d+ \((0x[0-9a-f]+)\): ` + regexp.QuoteMeta(slot.Reader) + `\n\s+token label\s+: (.*)`).FindStringSubmatch(list)
	if m == nil || strings.TrimSpace(m[2]) != "BELPIC (Basic PIN)" {
		t.Fatalf("no BELPIC token in reader %q:\n%s", slot.Reader, list)
	}
	p11 := []string{"pkcs11-tool", "--module", openscPKCS11, "--slot", m[1]}

	objects := mustRun(declassified, append(p11, "-O")...)
	for _, label := range []string{"Authentication", "Signature", "CA", "Root"} {
		if !regexp.MustCompile(`Certificate Object; type = X\.509 cert\n\s+label:\s+` + label + `\n`).MatchString(objects) {
			t.Errorf("-O: no %s certificate:\n%s", label, objects)
		}
	}
	objects = mustRun(conf, append(p11, "--login", "--pin", "1234", "-O")...)
	if strings.Count(objects, "Certificate Object") != 4 || strings.Count(objects, "Private Key Object; RSA") != 2 {
		t.Errorf("-O --login: want 4 certificates and 2 RSA keys:\n%s", objects)
	}

	data := filepath.Join(dir, "data")
	sigFile := filepath.Join(dir, "sig")
	msg := []byte("signed through OpenSC by the virtual card")
	if err := os.WriteFile(data, msg, 0o644); err != nil {
		t.Fatal(err)
	}
	// A wrong PIN first: OpenSC must see 63 Cx and the card count down.
	out, err := openscRun(conf, append(p11, "--login", "--pin", "9999", "--sign", "--id", "02", "-m", "SHA256-RSA-PKCS", "-i", data, "-o", sigFile)...)
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) || !strings.Contains(out, "CKR_PIN_INCORRECT") || card.PINTries() != 2 {
		t.Fatalf("wrong PIN: %v, tries %d\n%s", err, card.PINTries(), out)
	}
	mustRun(conf, append(p11, "--login", "--pin", "1234", "--sign", "--id", "02", "-m", "SHA256-RSA-PKCS", "-i", data, "-o", sigFile)...)
	sig, err := os.ReadFile(sigFile)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := p.Certificate(PathAuthCert)
	if err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256(msg)
	if err := rsa.VerifyPKCS1v15(cert.PublicKey.(*rsa.PublicKey), crypto.SHA256, digest[:], sig); err != nil {
		t.Fatalf("OpenSC signature does not verify with the authentication certificate: %v", err)
	}
	if card.PINTries() != 3 {
		t.Errorf("tries %d after a good PIN", card.PINTries())
	}
	t.Logf("%d APDUs answered", card.Count())
}
