package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eid-agent/eid-agent/bridge/webeid"
	"github.com/eid-agent/eid-agent/internal/lab"
	"github.com/eid-agent/eid-agent/internal/virtual"
	"github.com/eid-agent/eid-agent/internal/vpcd"
)

// slowPinentry is a pinentry that waits before typing the PIN, as a
// holder reading the dialog would: it keeps a reader busy.
func slowPinentry(t *testing.T, pin string, wait time.Duration) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "pinentry-slow")
	body := "#!/bin/sh\necho 'OK Pleased to meet you'\nwhile read cmd rest; do\n case $cmd in\n" +
		" GETPIN) sleep " + strings.TrimSuffix(wait.String(), "s") + "; echo 'D " + pin + "'; echo OK ;;\n" +
		" CONFIRM) echo OK ;;\n BYE) echo OK; exit 0 ;;\n *) echo OK ;;\n esac\ndone\n"
	if err := os.WriteFile(p, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestDaemonPCSC runs the agent on the lab's pcscd: card events reach a
// subscriber within a second of insertion and removal, reads and
// authentication work, a PIN dialog open on one reader does not hold up a
// read on another, the audit journal records each operation, and SIGTERM
// during an operation ends the process cleanly.
func TestDaemonPCSC(t *testing.T) {
	slots := lab.Slots(t)
	if len(slots) < 2 {
		t.Fatal("need two lab slots")
	}
	const app = "https://counter.example"
	cfg := "pinentry_program = \"" + slowPinentry(t, "1234", 2*time.Second) + "\"\npin_prompt = \"pinentry\"\n"
	d := startDaemon(t, cfg, "--allow-origin", app, "--grant", app+"=card,identity,authenticate")
	c := d.dial(app)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := c.Call(ctx, "subscribe", nil, nil); err != nil {
		t.Fatal(err)
	}
	p17, err := virtual.Preset("citizen-1.7")
	if err != nil {
		t.Fatal(err)
	}
	p18, err := virtual.Preset("citizen-1.8")
	if err != nil {
		t.Fatal(err)
	}
	var worst time.Duration
	insert := func(slot lab.Slot, p *virtual.Profile) *vpcd.Insertion {
		start := time.Now()
		in, err := vpcd.Insert(context.Background(), slot.Addr, virtual.New(p))
		if err != nil {
			t.Fatal(err)
		}
		for {
			e := nextEvent(t, c, "card-inserted", time.Second)
			if strings.Contains(string(e.Data), slot.Reader) {
				break
			}
		}
		worst = max(worst, time.Since(start))
		return in
	}
	a := insert(slots[0], p17)
	b := insert(slots[1], p18)

	// A slow PIN dialog holds slot 0; a read on slot 1 goes through.
	authDone := make(chan error, 1)
	n := testNonce(t)
	go func() {
		var tok webeid.Token
		err := c.Call(ctx, "authenticate", map[string]any{"nonce": n, "reader": slots[0].Reader}, &tok)
		if err == nil {
			_, err = webeid.Verify(&tok, app, n)
		}
		authDone <- err
	}()
	time.Sleep(300 * time.Millisecond) // the dialog is open
	var read struct {
		Reading struct {
			Identity struct{ NationalNumber string }
		}
	}
	if err := c.Call(ctx, "read", map[string]any{"fields": []string{"identity"}, "reader": slots[1].Reader}, &read); err != nil {
		t.Fatal(err)
	}
	// The read is done while the authentication still waits in its 2 s
	// dialog: the other reader was not held up.
	select {
	case <-authDone:
		t.Error("authentication finished before its 2 s PIN dialog: the read did not overlap it")
	default:
	}
	if err := <-authDone; err != nil {
		t.Fatalf("authentication: %v", err)
	}

	for _, in := range []*vpcd.Insertion{a, b} {
		start := time.Now()
		in.Remove()
		nextEvent(t, c, "card-removed", time.Second)
		worst = max(worst, time.Since(start))
	}
	t.Logf("slowest card event reached the client %v after the change", worst.Round(time.Millisecond))

	st := d.status()
	if st.Service != "up" || st.Simulate {
		t.Errorf("status %+v", st)
	}

	// SIGTERM while an authentication waits in its PIN dialog.
	c2 := insert(slots[0], p17)
	defer c2.Remove()
	go c.Call(ctx, "authenticate", map[string]any{"nonce": testNonce(t), "reader": slots[0].Reader}, nil)
	time.Sleep(300 * time.Millisecond)
	if code := d.stop(); code != 0 {
		t.Errorf("exit %d after SIGTERM; logs:\n%s", code, d.Logs())
	}
	var ops []string
	for _, e := range d.audit() {
		ops = append(ops, e.Operation+":"+e.Outcome)
	}
	got := strings.Join(ops, " ")
	if !strings.HasPrefix(got, "read:ok authenticate:ok") || len(ops) != 3 {
		t.Errorf("audit %v", ops)
	}
}
