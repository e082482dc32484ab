package main

import (
	"context"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/eid-agent/eid-agent/bridge/client"
	"github.com/eid-agent/eid-agent/internal/lab"
	"github.com/eid-agent/eid-agent/internal/virtual"
	"github.com/eid-agent/eid-agent/internal/vpcd"
)

func labScriptPath() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "scripts", "pcsc-lab")
}

// labScript runs scripts/pcsc-lab.
func labScript(t *testing.T, args ...string) {
	t.Helper()
	script := labScriptPath()
	if out, err := exec.Command("bash", append([]string{script}, args...)...).CombinedOutput(); err != nil {
		t.Fatalf("pcsc-lab %v: %v\n%s", args, err, out)
	}
}

// TestDaemonServiceRecovery: the agent starts while pcscd is down and
// says so; pcscd starts and the agent finds it by itself; pcscd restarts
// with one reader more (vpcd readers are fixed per pcscd run, so a new
// reader comes with a restart) and then with the original set: every
// change reaches a subscriber as events, status follows, and a card read
// works at the end, all without restarting the agent.
func TestDaemonServiceRecovery(t *testing.T) {
	slots := lab.Slots(t)
	entries := (len(slots) + 1) / 2
	const app = "https://counter.example"
	labScript(t, "stop")
	t.Cleanup(func() {
		// Leave the lab as found, whatever happened.
		exec.Command("bash", labScriptPath(), "stop").Run()
		exec.Command("bash", labScriptPath(), "start", strconv.Itoa(entries)).Run()
	})
	d := startDaemon(t, "", "--allow-origin", app, "--grant", app+"=identity")
	c := d.dial(app)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if err := c.Call(ctx, "subscribe", nil, nil); err != nil {
		t.Fatal(err)
	}
	nextEvent(t, c, "service-down", 5*time.Second)
	// The PC/SC cause reaches status and the log (a help desk needs it).
	if st := d.status(); st.Service != "down" || len(st.Readers) != 0 || !strings.HasPrefix(st.ServiceError, "SCardEstablishContext: ") {
		t.Errorf("status with pcscd down: %+v", st)
	}
	if r := d.cli("status", "--url", d.url, "--state-dir", d.state); !strings.Contains(r.stdout, "cause: SCardEstablishContext: ") {
		t.Errorf("status command with pcscd down: %+v", r)
	}
	if !strings.Contains(d.Logs(), `"msg":"PC/SC service down","err":"SCardEstablishContext: `) {
		t.Errorf("service-down cause not logged:\n%s", d.Logs())
	}
	var rs struct{ Readers []struct{ Name string } }
	if err := c.Call(ctx, "readers", nil, &rs); err == nil {
		t.Errorf("readers with pcscd down answered %+v", rs)
	}

	labScript(t, "start", strconv.Itoa(entries+1))
	nextEvent(t, c, "service-up", 5*time.Second)
	extra := "Virtual PCD " + strconv.Itoa(entries) + " 00 00"
	waitReaderEvent(t, c, "reader-added", extra)
	if st := d.status(); st.Service != "up" || len(st.Readers) != 2*(entries+1) || st.ServiceError != "" {
		t.Errorf("status after pcscd started: service %s (%q), %d readers", st.Service, st.ServiceError, len(st.Readers))
	}

	labScript(t, "stop")
	waitReaderEvent(t, c, "reader-removed", extra)
	nextEvent(t, c, "service-down", 5*time.Second)
	labScript(t, "start", strconv.Itoa(entries))
	nextEvent(t, c, "service-up", 5*time.Second)
	waitReaderEvent(t, c, "reader-added", slots[0].Reader)

	p, err := virtual.Preset("citizen-1.7")
	if err != nil {
		t.Fatal(err)
	}
	in, err := vpcd.Insert(context.Background(), slots[0].Addr, virtual.New(p))
	if err != nil {
		t.Fatal(err)
	}
	defer in.Remove()
	waitReaderEvent(t, c, "card-inserted", slots[0].Reader)
	var read struct {
		Reading struct {
			Identity struct{ NationalNumber string }
		}
	}
	if err := c.Call(ctx, "read", map[string]any{"fields": []string{"identity"}, "reader": slots[0].Reader}, &read); err != nil {
		t.Fatalf("read after the restarts: %v", err)
	}
	if st := d.status(); st.Service != "up" {
		t.Errorf("final status %+v", st)
	}
	if code := d.stop(); code != 0 {
		t.Errorf("exit %d", code)
	}
}

// waitReaderEvent waits for an event of typ about reader.
func waitReaderEvent(t *testing.T, c *client.Client, typ, reader string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		e := nextEvent(t, c, typ, time.Until(deadline))
		if strings.Contains(string(e.Data), `"`+reader+`"`) {
			return
		}
	}
	t.Fatalf("no %s for %q", typ, reader)
}
