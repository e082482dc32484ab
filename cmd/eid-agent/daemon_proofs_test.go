package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eid-agent/eid-agent/bridge"
	"github.com/eid-agent/eid-agent/isi"
	"github.com/eid-agent/eid-agent/proof"
)

// TestDaemonProofs: over the bridge, an ISI+ scan (with AZERTY garbage), a
// typed entry, an eID reading-proof and a plain read each land in the
// journal, which proofs.list (the origin's own records) and the `proofs`
// command (all of them) read back while the agent runs; a CLI `isi` run
// writes to the same journal meanwhile; an invalid SSIN is refused with
// BAD_REQUEST and journals nothing.
func TestDaemonProofs(t *testing.T) {
	const app = "https://pharmacy.example"
	d := startDaemon(t, "", "--simulate", "--allow-origin", app, "--grant", app+"=identity,card")
	c := d.dial(app)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	h, err := c.Hello(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(h.Features, " "), "isi proofs") {
		t.Errorf("features %v", h.Features)
	}
	type reading struct {
		SSIN, SSINKind, CardNumber string
		Proof                      map[string]any
	}
	var r1 struct{ Reading reading }
	// 85073003328 typed by a US-layout scanner into a Belgian AZERTY
	// computer: the agent maps the digit row back.
	garbled := isi.Garble("85073003328", isi.LayoutQWERTYOnAZERTY)
	if garbled == "85073003328" {
		t.Fatal("Garble changed nothing")
	}
	if err := c.Call(ctx, "isi.submit", map[string]any{"raw": garbled}, &r1); err != nil {
		t.Fatal(err)
	}
	if r1.Reading.SSIN != "85073003328" || r1.Reading.Proof["supportType"] != "4" || r1.Reading.Proof["rawScan"] != garbled {
		t.Errorf("scan %+v", r1.Reading)
	}
	var r2 struct{ Reading reading }
	if err := c.Call(ctx, "isi.submit", map[string]any{"manual": map[string]string{"ssin": "85.07.30-033.28", "reason": "2"}}, &r2); err != nil {
		t.Fatal(err)
	}
	if r2.Reading.Proof["inputType"] != "4" || r2.Reading.Proof["manualReason"] != "2" {
		t.Errorf("manual %+v", r2.Reading)
	}
	err = c.Call(ctx, "isi.submit", map[string]any{"raw": "85073003329"}, nil)
	var be *bridge.Error
	if !errorsAs(err, &be) || be.Code != bridge.CodeBadRequest {
		t.Errorf("invalid SSIN: %v", err)
	}
	var rp bridge.ReadingProofResult
	if err := c.Call(ctx, "reading-proof", map[string]any{"nonce": testNonce(t), "fields": []string{"card"}}, &rp); err != nil {
		t.Fatal(err)
	}
	var eid proof.Record
	if err := json.Unmarshal(rp.Proof, &eid); err != nil {
		t.Fatal(err)
	}
	if eid.InputType != proof.InputChip || eid.SSIN == "" || rp.Origin != app || rp.Reading["card"] == nil || rp.Reading["identity"] != nil {
		t.Errorf("reading-proof %+v %s", rp, rp.Proof)
	}

	// A plain read is journaled too: every reading has its proof.
	if err := c.Call(ctx, "read", map[string]any{"fields": []string{"card"}}, nil); err != nil {
		t.Fatal(err)
	}

	// The CLI writes to the same journal while the agent runs.
	journal := filepath.Join(d.state, "proofs.jsonl")
	if r := d.cli("isi", "--scan", "85073003328", "--journal", journal); r.code != 0 {
		t.Errorf("isi CLI beside the agent: %+v", r)
	}
	var list struct{ Proofs []proof.Record }
	if err := c.Call(ctx, "proofs.list", map[string]any{"ssin": "85073003328"}, &list); err != nil {
		t.Fatal(err)
	}
	// The CLI's record is not this origin's: it is not listed to it.
	if len(list.Proofs) != 2 || list.Proofs[0].Caller != app || list.Proofs[1].Caller != app {
		t.Errorf("proofs.list: %+v, want 2 records made for %s (scan, manual)", list.Proofs, app)
	}
	if err := c.Call(ctx, "proofs.list", map[string]any{"limit": 2}, &list); err != nil || len(list.Proofs) != 2 {
		t.Errorf("limit 2: %v %d", err, len(list.Proofs))
	}
	if r := d.cli("proofs", "export", "--format", "csv", "--journal", journal); r.code != 0 || strings.Count(r.stdout, "\n") != 6 {
		t.Errorf("proofs export while the agent runs: %+v", r)
	}
	lines, _ := os.ReadFile(journal)
	if n := strings.Count(string(lines), "\n"); n != 5 {
		t.Errorf("journal has %d lines, want 5 (scan, manual, reading-proof, read, CLI)", n)
	}
	if code := d.stop(); code != 0 {
		t.Errorf("exit %d", code)
	}
}
