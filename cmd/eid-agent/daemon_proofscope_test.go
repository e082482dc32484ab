package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eid-agent/eid-agent/bridge"
	"github.com/eid-agent/eid-agent/bridge/client"
	"github.com/eid-agent/eid-agent/internal/agent/audit"
	"github.com/eid-agent/eid-agent/proof"
)

// recordingPinentry writes a pinentry program that appends every dialog
// text to asked and answers CONFIRM from the file answer (one line of the
// Assuan protocol: "OK" or an ERR line).
func recordingPinentry(t *testing.T, dir string) (prog, asked, answer string) {
	t.Helper()
	asked, answer = filepath.Join(dir, "asked"), filepath.Join(dir, "answer")
	prog = filepath.Join(dir, "pinentry-confirm")
	body := "#!/bin/sh\necho 'OK Pleased to meet you'\nwhile read cmd rest; do\n case $cmd in\n" +
		" SETDESC) echo \"$rest\" >> " + asked + "; echo OK ;;\n" +
		" CONFIRM) cat " + answer + " ;;\n BYE) echo OK; exit 0 ;;\n *) echo OK ;;\n esac\ndone\n"
	if err := os.WriteFile(prog, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	return prog, asked, answer
}

// TestDaemonReadingProofConsent performs the red team's attack: a page
// granted only "card" asks reading-proof {fields:["card"]}, whose proof
// carries the national number. The agent asks consent for card and
// identity (the dialog names the reading proof and the national number);
// refused, the page gets CONSENT_DENIED and no SSIN, and nothing is
// journaled; approved, the audit entry names every field given out. The
// proof of a genuine card read without its address and photo says
// "partial" and what was not checked, never "failed".
func TestDaemonReadingProofConsent(t *testing.T) {
	const refuser, approver = "https://pharmacy.example", "https://clinic.example"
	home := t.TempDir()
	prog, asked, answer := recordingPinentry(t, home)
	cfg := "consent_prompt = \"pinentry\"\npinentry_program = \"" + prog + "\"\n"
	d := startDaemonIn(t, home, cfg, "--simulate", "--allow-origin", refuser, "--allow-origin", approver,
		"--grant", refuser+"=card", "--grant", approver+"=card")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	journal := filepath.Join(d.state, "proofs.jsonl")

	// The attack: only card granted, the holder refuses the dialog.
	os.WriteFile(answer, []byte("ERR 83886179 Operation cancelled <Pinentry>\n"), 0o644)
	c := d.dial(refuser)
	var rp bridge.ReadingProofResult
	err := c.Call(ctx, "reading-proof", map[string]any{"nonce": testNonce(t), "fields": []string{"card"}}, &rp)
	var be *bridge.Error
	if !errorsAs(err, &be) || be.Code != bridge.CodeConsentDenied {
		t.Fatalf("reading-proof with only card granted: %v, proof %s", err, rp.Proof)
	}
	q, _ := os.ReadFile(asked)
	if !strings.Contains(string(q), refuser) || !strings.Contains(string(q), "card, identity") ||
		!strings.Contains(string(q), "reading proof") || !strings.Contains(string(q), "national number") {
		t.Errorf("the dialog said %q", q)
	}
	if _, err := os.Stat(journal); err == nil && len(journalRecords(t, journal)) != 0 {
		t.Errorf("a refused reading-proof journaled %d records", len(journalRecords(t, journal)))
	}
	// What was granted still works.
	var read struct{ Reading map[string]json.RawMessage }
	if err := c.Call(ctx, "read", map[string]any{"fields": []string{"card"}}, &read); err != nil || read.Reading["card"] == nil {
		t.Fatalf("read card: %v", err)
	}

	// Approved: the proof and the card, and the audit says so.
	os.WriteFile(answer, []byte("OK\n"), 0o644)
	c2 := d.dial(approver)
	rp = bridge.ReadingProofResult{}
	if err := c2.Call(ctx, "reading-proof", map[string]any{"nonce": testNonce(t), "fields": []string{"card"}}, &rp); err != nil {
		t.Fatal(err)
	}
	var pr proof.Record
	if err := json.Unmarshal(rp.Proof, &pr); err != nil {
		t.Fatal(err)
	}
	if len(pr.SSIN) != 11 || pr.Caller != approver || rp.Reading["identity"] != nil {
		t.Errorf("approved reading-proof: %s, reading %v", rp.Proof, rp.Reading)
	}
	// The simulated card is genuine; address and photo were not read.
	if pr.Integrity != proof.IntegrityPartial || !slices.Contains(pr.NotChecked, "address") || !slices.Contains(pr.NotChecked, "photo") {
		t.Errorf("proof of a card-only reading: integrity %q, not checked %q", pr.Integrity, pr.NotChecked)
	}

	var refused, approved, plain *audit.Entry
	for _, e := range d.audit() {
		switch {
		case e.Caller == refuser && e.Operation == "reading-proof":
			refused = &e
		case e.Caller == approver && e.Operation == "reading-proof":
			approved = &e
		case e.Caller == refuser && e.Operation == "read":
			plain = &e
		}
	}
	want := []string{"card", "identity"}
	if refused == nil || refused.Outcome != string(bridge.CodeConsentDenied) || !slices.Equal(refused.Fields, want) {
		t.Errorf("audit of the refused reading-proof: %+v", refused)
	}
	if approved == nil || approved.Outcome != "ok" || !slices.Equal(approved.Fields, want) {
		t.Errorf("audit of the approved reading-proof: %+v", approved)
	}
	if plain == nil || !slices.Equal(plain.Fields, []string{"card"}) {
		t.Errorf("audit of the read: %+v", plain)
	}
	recs := journalRecords(t, journal)
	if len(recs) != 2 || recs[0].Caller != refuser || !slices.Equal(recs[0].Fields, []string{"card"}) ||
		recs[1].Caller != approver || !slices.Equal(recs[1].Fields, want) {
		t.Errorf("journal callers: %+v", recs)
	}
	if code := d.stop(); code != 0 {
		t.Errorf("exit %d", code)
	}
}

// TestDaemonProofsListScope performs the red team's second attack: an
// origin granted identity lists the journal. It gets its own records
// only: not another origin's, not the CLI's, not the records written
// before callers were recorded, and an SSIN filter cannot probe them.
// all:true is refused without a dialog; an origin the administrator's
// policy grants proofs-all gets every record; --grant cannot give it.
// Every list is in the audit journal, without the SSIN.
func TestDaemonProofsListScope(t *testing.T) {
	const a, b, admin = "https://a.example", "https://b.example", "https://billing.example"
	home := t.TempDir()
	// The administrator's policy grants proofs-all (isolatedEnv points
	// EID_AGENT_POLICY at this file).
	policy := "allowed_origins = [\"" + admin + "\"]\n[[grant]]\norigin = \"" + admin + "\"\npermissions = [\"proofs-all\"]\n"
	if err := os.WriteFile(filepath.Join(home, "no-policy.toml"), []byte(policy), 0o644); err != nil {
		t.Fatal(err)
	}
	// A journal from before callers were recorded.
	journal := filepath.Join(home, "state", "eid-agent", "proofs.jsonl")
	os.MkdirAll(filepath.Dir(journal), 0o700)
	old := `{"id":"00000000000000aa","readAt":"2026-01-05T10:00:00+01:00","readingDate":"20260105","readingTime":"1000","supportType":"4","inputType":"2","serialNumber":"591201099997","ssin":"98472899765","ssinKind":"BIS","validity":"unknown"}` + "\n"
	if err := os.WriteFile(journal, []byte(old), 0o600); err != nil {
		t.Fatal(err)
	}
	prog, asked, answer := recordingPinentry(t, home)
	os.WriteFile(answer, []byte("OK\n"), 0o644)
	// Keep the old record whatever today's date (retention 0 keeps all).
	cfg := "consent_prompt = \"pinentry\"\npinentry_program = \"" + prog + "\"\n[journal]\nretention_days = 0\n"

	// A flag cannot grant the administrator's permission.
	env := isolatedEnv(t.TempDir())
	if r := execAgent(t, env, "", 30*time.Second, "run", "--simulate", "--listen", "127.0.0.1:0", "--allow-origin", a, "--grant", a+"=proofs-all"); r.code != exitUsage ||
		!strings.Contains(r.stderr, "policy file") {
		t.Errorf("run --grant ORIGIN=proofs-all: exit %d, %q", r.code, r.stderr)
	}

	d := startDaemonIn(t, home, cfg, "--simulate", "--allow-origin", a, "--allow-origin", b,
		"--grant", a+"=card,identity", "--grant", b+"=card,identity")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ca, cb := d.dial(a), d.dial(b)
	scan := func(c *client.Client, raw string) {
		t.Helper()
		if err := c.Call(ctx, "isi.submit", map[string]any{"raw": raw}, nil); err != nil {
			t.Fatal(err)
		}
	}
	scan(ca, "85073003328")
	var rp bridge.ReadingProofResult
	if err := ca.Call(ctx, "reading-proof", map[string]any{"nonce": testNonce(t), "fields": []string{"identity"}}, &rp); err != nil {
		t.Fatal(err)
	}
	var simProof proof.Record
	if err := json.Unmarshal(rp.Proof, &simProof); err != nil || len(simProof.SSIN) != 11 {
		t.Fatalf("proof %s: %v", rp.Proof, err)
	}
	// A read of the card alone is journaled, but A did not get its SSIN:
	// it is not listed to A.
	if err := ca.Call(ctx, "read", map[string]any{"fields": []string{"card"}}, nil); err != nil {
		t.Fatal(err)
	}
	scan(cb, "17073003384")
	if r := d.cli("isi", "--scan", "17073003384", "--journal", journal); r.code != 0 {
		t.Fatalf("isi CLI: %+v", r)
	}

	list := func(c *client.Client, params map[string]any) ([]proof.Record, error) {
		var l struct{ Proofs []proof.Record }
		err := c.Call(ctx, "proofs.list", params, &l)
		return l.Proofs, err
	}
	callers := func(recs []proof.Record) []string {
		out := []string{}
		for _, r := range recs {
			out = append(out, r.Caller)
		}
		return out
	}
	own, err := list(ca, map[string]any{})
	if err != nil || !slices.Equal(callers(own), []string{a, a}) {
		t.Errorf("A's list: %q, %v", callers(own), err)
	}
	// Probing B's, the CLI's and the old record's SSINs finds nothing.
	for _, nn := range []string{"17073003384", "98472899765"} {
		if recs, err := list(ca, map[string]any{"ssin": nn}); err != nil || len(recs) != 0 {
			t.Errorf("A probing %s: %d records, %v", nn, len(recs), err)
		}
	}
	if recs, err := list(cb, map[string]any{}); err != nil || !slices.Equal(callers(recs), []string{b}) {
		t.Errorf("B's list: %q, %v", callers(recs), err)
	}
	// all:true without the administrator's grant: refused, no dialog.
	os.Remove(asked)
	_, err = list(ca, map[string]any{"all": true})
	var be *bridge.Error
	if !errorsAs(err, &be) || be.Code != bridge.CodeConsentDenied {
		t.Errorf("A asking for all: %v", err)
	}
	if q, err := os.ReadFile(asked); err == nil {
		t.Errorf("all:true raised a dialog: %q", q)
	}
	// The administrator's origin sees every record, the old one included.
	all, err := list(d.dial(admin), map[string]any{"all": true})
	if err != nil || !slices.Equal(callers(all), []string{"", a, a, a, b, proof.CallerCLI}) {
		t.Errorf("proofs-all list: %q, %v", callers(all), err)
	}
	// The CLI reads the whole journal.
	if r := d.cli("proofs", "list", "--journal", journal); r.code != 0 || !strings.Contains(r.stdout, "6 proof(s)") {
		t.Errorf("proofs list: %+v", r)
	}

	// Every list audited: who, whose, filters, how many; never the SSIN.
	var lists []audit.Entry
	var refusedAll bool
	for _, e := range d.audit() {
		if e.Operation == "proofs.list" {
			lists = append(lists, e)
		}
		if e.Operation == "proofs-all" && e.Caller == a && e.Outcome == string(bridge.CodeConsentDenied) {
			refusedAll = true
		}
	}
	count := func(e audit.Entry) int {
		if e.Count == nil {
			return -1
		}
		return *e.Count
	}
	if len(lists) != 5 {
		t.Fatalf("%d proofs.list audit entries, want 5: %+v", len(lists), lists)
	}
	if e := lists[0]; e.Caller != a || e.Scope != "own" || count(e) != 2 || e.Outcome != "ok" {
		t.Errorf("A's list audited as %+v", e)
	}
	if e := lists[1]; count(e) != 0 || !slices.Contains(e.Filters, "ssin") {
		t.Errorf("A's probe audited as %+v", e)
	}
	if e := lists[4]; e.Caller != admin || e.Scope != "all" || count(e) != 6 {
		t.Errorf("the administrator's list audited as %+v", e)
	}
	if !refusedAll {
		t.Error("the refused all:true is not audited")
	}
	raw, _ := os.ReadFile(filepath.Join(d.state, "audit.jsonl"))
	for _, nn := range []string{"85073003328", "17073003384", "98472899765", simProof.SSIN} {
		if strings.Contains(string(raw), nn) {
			t.Errorf("SSIN %s in the audit journal", nn)
		}
	}
	if logs := d.Logs(); strings.Contains(logs, "98472899765") || strings.Contains(logs, "17073003384") || strings.Contains(logs, simProof.SSIN) {
		t.Error("an SSIN in the logs")
	}
	if code := d.stop(); code != 0 {
		t.Errorf("exit %d", code)
	}
}
