package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eid-agent/eid-agent/bridge"
	"github.com/eid-agent/eid-agent/bridge/client"
)

// TestDaemonConsent: an origin nobody granted gets the agent's own
// consent dialog (a pinentry program, answering from a file here); an
// approval is remembered across restarts and listed by `consent list`; a
// refusal is CONSENT_DENIED; `consent revoke` takes effect in the running
// agent.
func TestDaemonConsent(t *testing.T) {
	const app = "https://pharmacy.example"
	dir := t.TempDir()
	answer := filepath.Join(dir, "answer")
	asked := filepath.Join(dir, "asked")
	prog := filepath.Join(dir, "pinentry-confirm")
	body := "#!/bin/sh\necho 'OK Pleased to meet you'\nwhile read cmd rest; do\n case $cmd in\n" +
		" SETDESC) echo \"$rest\" >> " + asked + "; echo OK ;;\n" +
		" CONFIRM) cat " + answer + " ;;\n BYE) echo OK; exit 0 ;;\n *) echo OK ;;\n esac\ndone\n"
	if err := os.WriteFile(prog, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	setAnswer := func(s string) { os.WriteFile(answer, []byte(s+"\n"), 0o644) }
	cfg := "consent_prompt = \"pinentry\"\npinentry_program = \"" + prog + "\"\n"
	d := startDaemon(t, cfg, "--simulate", "--allow-origin", app)
	c := d.dial(app)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	read := func(c *client.Client) error {
		return c.Call(ctx, "read", map[string]any{"fields": []string{"identity"}}, nil)
	}

	setAnswer("ERR 83886179 Operation cancelled <Pinentry>")
	err := read(c)
	var be *bridge.Error
	if !errorsAs(err, &be) || be.Code != bridge.CodeConsentDenied {
		t.Fatalf("refused consent: %v", err)
	}
	q, _ := os.ReadFile(asked)
	if !strings.Contains(string(q), "pharmacy.example") || !strings.Contains(string(q), "identity") {
		t.Errorf("the dialog said %q", q)
	}
	// Within the cool-down the page cannot pop the dialog again.
	os.Remove(asked)
	setAnswer("OK")
	if err := read(c); !errorsAs(err, &be) || be.Code != bridge.CodeConsentDenied {
		t.Errorf("during the cool-down: %v", err)
	}
	if _, err := os.Stat(asked); err == nil {
		t.Error("the dialog was shown again during the cool-down")
	}

	// Approve in a restarted agent: the decision is remembered in the
	// state folder, not in the process.
	d.stop()
	d2 := startDaemonIn(t, d.home, cfg, "--simulate", "--allow-origin", app)
	c2 := d2.dial(app)
	if err := read(c2); err != nil {
		t.Fatalf("approved consent: %v", err)
	}
	os.Remove(asked)
	if err := read(c2); err != nil {
		t.Fatalf("remembered consent: %v", err)
	}
	if _, err := os.Stat(asked); err == nil {
		t.Error("asked again although remembered")
	}
	if r := d2.cli("consent", "list"); r.code != 0 || !strings.Contains(r.stdout, app) || !strings.Contains(r.stdout, "identity") {
		t.Errorf("consent list: %+v", r)
	}
	if r := d2.cli("consent", "revoke", app); r.code != 0 {
		t.Fatalf("consent revoke: %+v", r)
	}
	setAnswer("ERR 83886179 Operation cancelled <Pinentry>")
	if err := read(c2); !errorsAs(err, &be) || be.Code != bridge.CodeConsentDenied {
		t.Errorf("after revoke: %v", err)
	}
	if code := d2.stop(); code != 0 {
		t.Errorf("exit %d", code)
	}
}
