package main

import (
	"bufio"
	"context"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eid-agent/eid-agent/card/eidfile"
	"github.com/eid-agent/eid-agent/internal/clock"
	"github.com/eid-agent/eid-agent/internal/lab"
	"github.com/eid-agent/eid-agent/internal/virtual"
	"github.com/eid-agent/eid-agent/internal/vpcd"
)

// TestBrowserCounter: the counter login as a desk meets it. The real
// eid-agent binary on the lab's pcscd, its administrator's policy pairing
// eid-verify's origin in counter mode (identity and photo, attestation);
// eid-verify's counter page in headless Chromium; virtual cards inserted
// into a lab reader with a real card's link timing. Without a click or a
// PIN the page shows the holder, the server verifies the attestation
// (genuine, present, bound) and logs the holder in; removing the card
// clears the page; a returning card logs in again; a 1.7 card is shown
// but not logged in (no proof of presence without the PIN).
func TestBrowserCounter(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		lab.Require(t, "node is not installed (apt-get install nodejs)")
	}
	if _, err := os.Stat("/usr/bin/chromium"); err != nil {
		lab.Require(t, "chromium is not installed (apt-get install chromium)")
	}
	playwright, _ := filepath.Abs("../../internal/web/node_modules/playwright-core/index.mjs")
	if _, err := os.Stat(playwright); err != nil {
		lab.Require(t, "web/node_modules is missing (npm ci --prefix web)")
	}
	slot := lab.Slots(t)[0]
	tmp := t.TempDir()
	agentBin := filepath.Join(tmp, "eid-agent")
	if out, err := exec.Command("go", clock.GoBuild("-o", agentBin, "../eid-agent")...).CombinedOutput(); err != nil {
		t.Fatalf("building eid-agent: %v\n%s", err, out)
	}

	p18, err := virtual.Preset("citizen-1.8")
	if err != nil {
		t.Fatal(err)
	}
	p17, err := virtual.Preset("citizen-1.7")
	if err != nil {
		t.Fatal(err)
	}
	_, id18, _ := eidfile.ParseIdentity(p18.Files[virtual.PathIdentity])
	_, id17, _ := eidfile.ParseIdentity(p17.Files[virtual.PathIdentity])
	rootsFile := filepath.Join(tmp, "roots.pem")
	var pems []byte
	for _, c := range [][]byte{p18.PKI.Root.Raw, p17.PKI.Root.Raw} {
		pems = append(pems, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c})...)
	}
	if err := os.WriteFile(rootsFile, pems, 0o644); err != nil {
		t.Fatal(err)
	}

	agentPort := freePort(t)
	agentURL := fmt.Sprintf("ws://127.0.0.1:%d/ws", agentPort)
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	origin := "http://" + addr
	ctx, cancel := context.WithCancel(context.Background())
	addrc, done := make(chan string, 1), make(chan int, 1)
	var vout, verr syncBuffer
	go func() {
		done <- run(ctx, []string{"--listen", addr, "--origin", origin, "--ocsp", "off",
			"--agent", agentURL, "--trust-root", rootsFile}, &vout, &verr, func(a string) { addrc <- a })
	}()
	defer func() { cancel(); <-done }()
	select {
	case <-addrc:
	case code := <-done:
		t.Fatalf("eid-verify exited %d: %s", code, verr.String())
	}

	// The administrator's policy pairs this desk; nothing else allows or
	// grants it anything.
	policy := filepath.Join(tmp, "policy.toml")
	if err := os.WriteFile(policy, []byte(fmt.Sprintf(`allow_http_loopback_origins = true

[[counter]]
client = %q
fields = ["identity", "photo"]
attestation = true
`, origin)), 0o644); err != nil {
		t.Fatal(err)
	}
	cfgFile := filepath.Join(tmp, "agent.toml")
	if err := os.WriteFile(cfgFile, []byte("consent_prompt = \"none\"\npin_prompt = \"none\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	agentCmd := exec.Command(agentBin, "run", "--config", cfgFile, "--state-dir", filepath.Join(tmp, "state"),
		"--listen", fmt.Sprintf("127.0.0.1:%d", agentPort))
	agentCmd.Env = append(os.Environ(), "HOME="+tmp, "XDG_CONFIG_HOME="+filepath.Join(tmp, "config"), "EID_AGENT_POLICY="+policy)
	var aout, aerr syncBuffer
	agentCmd.Stdout, agentCmd.Stderr = &aout, &aerr
	if err := agentCmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		agentCmd.Process.Signal(os.Interrupt)
		agentCmd.Wait()
		if t.Failed() {
			t.Logf("agent stderr:\n%s\neid-verify stderr:\n%s", aerr.String(), verr.String())
		}
	}()
	waitListening(t, fmt.Sprintf("127.0.0.1:%d", agentPort), &aerr)

	drive := exec.Command(node, "testdata/counter.mjs")
	drive.Env = append(os.Environ(), "PLAYWRIGHT="+playwright, "PAGE_URL="+origin+"/counter",
		"PROFILE_DIR="+filepath.Join(tmp, "chromium"), "STEPS=login,login,shown")
	stdin, _ := drive.StdinPipe()
	stdout, _ := drive.StdoutPipe()
	var stderr syncBuffer
	drive.Stderr = &stderr
	if err := drive.Start(); err != nil {
		t.Fatal(err)
	}
	defer drive.Process.Kill()
	lines := bufio.NewScanner(stdout)
	lines.Buffer(make([]byte, 1<<20), 1<<20)
	expect := func(want string) {
		t.Helper()
		if !lines.Scan() {
			drive.Wait()
			t.Fatalf("browser ended waiting for %q: %s", want, stderr.String())
		}
		if got := lines.Text(); got != want {
			t.Fatalf("browser said %q, want %q; %s", got, want, stderr.String())
		}
	}
	link := func(p *virtual.Profile) virtual.Option {
		if p.Applet == "1.8" {
			return virtual.WithLink(10*time.Millisecond, 50*time.Microsecond)
		}
		return virtual.WithLink(10*time.Millisecond, 300*time.Microsecond)
	}
	for _, p := range []*virtual.Profile{p18, p18, p17} {
		expect("ready")
		in, err := vpcd.Insert(context.Background(), slot.Addr, virtual.New(p, link(p)))
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(stdin, "go\n")
		expect("shown")
		in.Remove()
		io.WriteString(stdin, "go\n")
		expect("cleared")
		io.WriteString(stdin, "go\n")
	}
	var shown struct {
		Cards []struct {
			ShownAfterMs    float64
			Name, SSIN      string
			Photo, LoggedIn bool
			Guarantees      []string
			ClearedName     string
		}
		Console []string
	}
	var last string
	for lines.Scan() {
		last = lines.Text()
	}
	if err := drive.Wait(); err != nil {
		t.Fatalf("browser: %v\n%s\n%s", err, last, stderr.String())
	}
	if err := json.Unmarshal([]byte(last), &shown); err != nil || len(shown.Cards) != 3 {
		t.Fatalf("browser output %q: %v", last, err)
	}
	for i, c := range shown.Cards {
		want, present := id18, true
		if i == 2 {
			want, present = id17, false
		}
		if c.Name != want.FirstNames+" "+want.Surname || !c.Photo || c.ClearedName != "" {
			t.Errorf("card %d: page showed %+v", i, c)
		}
		if c.LoggedIn != present || (present && c.SSIN != want.NationalNumber) {
			t.Errorf("card %d: logged in %v as %q", i, c.LoggedIn, c.SSIN)
		}
		g := strings.Join(c.Guarantees, " | ")
		if !strings.Contains(g, "genuine") || strings.Contains(g, "refused") || strings.Contains(g, "present: the card answered now") != present {
			t.Errorf("card %d: guarantees %q", i, g)
		}
		t.Logf("card %d (%s): shown %.0f ms after the page heard of the insertion; %s", i, map[bool]string{true: "1.8", false: "1.7"}[present], c.ShownAfterMs, g)
	}
	for _, l := range shown.Console {
		if strings.Contains(l, "Content Security Policy") || strings.HasPrefix(l, "pageerror") || strings.HasPrefix(l, "error") {
			t.Errorf("browser console: %s", l)
		}
	}
}
