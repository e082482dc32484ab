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
	"github.com/eid-agent/eid-agent/card/eidfile"
	"github.com/eid-agent/eid-agent/internal/lab"
	"github.com/eid-agent/eid-agent/internal/testkit"
	"github.com/eid-agent/eid-agent/internal/virtual"
	"github.com/eid-agent/eid-agent/proof"
	"github.com/eid-agent/eid-agent/verify"
)

// startCounterDaemon runs the binary on the lab's pcscd with policy as
// the administrator's policy file.
func startCounterDaemon(t testing.TB, policy, config string, args ...string) *daemon {
	t.Helper()
	home := t.TempDir()
	if err := os.WriteFile(filepath.Join(home, "no-policy.toml"), []byte(policy), 0o644); err != nil {
		t.Fatal(err)
	}
	return startDaemonIn(t, home, config, args...)
}

type cardRead struct {
	Reader           string                     `json:"reader"`
	Reading          map[string]json.RawMessage `json:"reading"`
	Attestation      json.RawMessage            `json:"attestation"`
	AttestationError *bridge.Error              `json:"attestationError"`
}

// waitCardRead returns c's next card-read, failing on a card-removed
// first.
func waitCardRead(t testing.TB, c *client.Client, within time.Duration) (cardRead, []byte) {
	t.Helper()
	deadline := time.After(within)
	for {
		select {
		case e, ok := <-c.Events():
			if !ok {
				t.Fatal("connection closed waiting for card-read")
			}
			switch e.Event {
			case "card-read":
				var r cardRead
				if err := json.Unmarshal(e.Data, &r); err != nil {
					t.Fatal(err)
				}
				raw, _ := json.Marshal(map[string]any{"event": e.Event, "data": json.RawMessage(e.Data)})
				return r, raw
			case "card-removed":
				t.Fatalf("card-removed before a card-read: %s", e.Data)
			}
		case <-deadline:
			t.Fatalf("no card-read within %v", within)
		}
	}
}

func keysOf(m map[string]json.RawMessage) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// TestDaemonCounterPCSC: counter mode through the real binary, pcscd and
// vpcd, with applet 1.8 and 1.7 cards. The paired applications get each
// inserted card once with exactly their pairing's fields (a desk without
// the national number; an attesting application with its attestation,
// for a nonce left standing before or after the insertion), another
// connection gets nothing; removal drops the data; each push is journaled
// and audited with the fields released (no values); one insertion read
// sends GET CARD DATA once and serves every application.
func TestDaemonCounterPCSC(t *testing.T) {
	slot := lab.Slots(t)[0]
	const desk, attesting, other = "https://desk.example", "https://attest.example", "https://other.example"
	policy := `[[counter]]
client = "` + desk + `"
fields = ["identity.surname", "identity.firstNames", "address", "photo"]
revocation = true

[[counter]]
client = "` + attesting + `"
fields = ["identity", "photo"]
attestation = true
`
	d := startCounterDaemon(t, policy, "consent_prompt = \"none\"\n", "--allow-origin", other, "--grant", other+"=identity,card")
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()

	cDesk, cAtt, cOther := d.dial(desk), d.dial(attesting), d.dial(other)
	var pairing bridge.CounterPairing
	if err := cDesk.Call(ctx, "counter", nil, &pairing); err != nil {
		t.Fatal(err)
	}
	if pairing.Attestation || !pairing.Revocation || !slices.Equal(pairing.Fields, []string{"identity.surname", "identity.firstNames", "address", "photo"}) {
		t.Errorf("desk pairing %+v", pairing)
	}
	if err := cOther.Call(ctx, "counter", nil, nil); codeOf(err) != bridge.CodeConsentDenied {
		t.Fatalf("an application the policy does not pair: %v", err)
	}
	if err := cOther.Call(ctx, "subscribe", nil, nil); err != nil {
		t.Fatal(err)
	}
	store := &verify.MemoryNonceStore{}
	n1, _ := store.Issue()
	if err := cAtt.Call(ctx, "counter", map[string]string{"nonce": n1}, &pairing); err != nil {
		t.Fatal(err)
	}
	if !pairing.Attestation {
		t.Errorf("attesting pairing %+v", pairing)
	}

	// Applet 1.8, the attesting application's nonce standing.
	p18, _ := virtual.Preset("citizen-1.8")
	in, apdus := insertTraced(t, cOther, slot, p18)
	rd, raw := waitCardRead(t, cDesk, 30*time.Second)
	if err := testkit.ValidateSchema(bridge.Schema, "event-card-read", raw); err != nil {
		t.Errorf("card-read event: %v", err)
	}
	if got := keysOf(rd.Reading); !slices.Equal(got, []string{"address", "identity", "photo"}) || rd.Attestation != nil || rd.Reader != slot.Reader {
		t.Errorf("desk got %v (attestation %v) from %q", got, rd.Attestation != nil, rd.Reader)
	}
	var id map[string]string
	json.Unmarshal(rd.Reading["identity"], &id)
	_, want, _ := eidfile.ParseIdentity(p18.Files[virtual.PathIdentity])
	if len(id) != 2 || id["surname"] != want.Surname || id["firstNames"] != want.FirstNames {
		t.Errorf("desk identity %v: want only surname and first names", id)
	}
	ra, raw := waitCardRead(t, cAtt, 30*time.Second)
	if err := testkit.ValidateSchema(bridge.Schema, "event-card-read", raw); err != nil {
		t.Errorf("card-read event: %v", err)
	}
	if got := keysOf(ra.Reading); !slices.Equal(got, []string{"identity", "photo"}) {
		t.Errorf("attesting application got %v", got)
	}
	ts := &eidfile.TrustStore{}
	ts.Add(p18.PKI.Root)
	res, err := (&verify.AttestationVerifier{Trust: ts, Nonces: store, RequirePresent: true}).VerifyAttestation(ra.Attestation, attesting, n1)
	if err != nil {
		t.Fatalf("card-read attestation: %v (%s)", err, verify.ErrorCode(err))
	}
	if res.Identity.Reading.Address != nil {
		t.Error("the attestation released the address, which the pairing does not name")
	}
	// The revocation check follows the display (these test certificates
	// name no responder: unavailable, but reported).
	e := nextEvent(t, cDesk, "card-revocation", 30*time.Second)
	if err := testkit.ValidateSchema(bridge.Schema, "event-card-revocation", mustEventJSON(t, e)); err != nil {
		t.Errorf("card-revocation: %v", err)
	}
	if !strings.Contains(string(e.Data), `"unavailable"`) {
		t.Errorf("card-revocation %s", e.Data)
	}
	// One read served both applications: one GET CARD DATA, one chip
	// challenge (the attestation, in the same transaction).
	if apdus.gcd.Load() != 1 || apdus.n.Load() != 1 {
		t.Errorf("insertion read sent %d GET CARD DATA and %d INTERNAL AUTHENTICATE, want 1 and 1", apdus.gcd.Load(), apdus.n.Load())
	}
	// A read by another application sends GET CARD DATA once more, once.
	if err := cOther.Call(ctx, "read", map[string]any{"fields": []string{"card"}, "reader": slot.Reader}, nil); err != nil {
		t.Fatal(err)
	}
	if apdus.gcd.Load() != 2 {
		t.Errorf("a read sent %d GET CARD DATA, want 1", apdus.gcd.Load()-1)
	}

	// Removal: card-removed follows, the data is gone.
	in.Remove()
	nextEvent(t, cDesk, "card-removed", 10*time.Second)
	nextEvent(t, cAtt, "card-removed", 10*time.Second)
	// The other connection, subscribed, saw the insertion and the
	// removal, never a card-read: everything sent to it before its
	// card-removed is checked.
	for removed := false; !removed; {
		select {
		case e := <-cOther.Events():
			switch e.Event {
			case "card-read", "card-revocation":
				t.Fatalf("an unpaired connection got %s: %s", e.Event, e.Data)
			case "card-removed":
				removed = strings.Contains(string(e.Data), slot.Reader)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no card-removed on the other connection")
		}
	}
	if err := cOther.Call(ctx, "read", map[string]any{"fields": []string{"identity"}, "reader": slot.Reader}, nil); codeOf(err) != bridge.CodeNoCard {
		t.Errorf("read after removal: %v", err)
	}
	// A desk that connects now sees nothing of the card that left: its
	// first card-read is the next card's.
	cDesk2 := d.dial(desk)
	if err := cDesk2.Call(ctx, "counter", nil, nil); err != nil {
		t.Fatal(err)
	}

	// Applet 1.7, no nonce standing: the desks get it at once, the
	// attesting application once it leaves a nonce.
	p17, _ := virtual.Preset("citizen-1.7")
	in, _ = insertTraced(t, cOther, slot, p17)
	_, want17, _ := eidfile.ParseIdentity(p17.Files[virtual.PathIdentity])
	for _, c := range []*client.Client{cDesk, cDesk2} {
		rd, _ := waitCardRead(t, c, 30*time.Second)
		json.Unmarshal(rd.Reading["identity"], &id)
		if id["firstNames"] != want17.FirstNames {
			t.Errorf("desk card-read of %q, want the 1.7 card's %q", id["firstNames"], want17.FirstNames)
		}
	}
	n2, _ := store.Issue()
	if err := cAtt.Call(ctx, "counter", map[string]string{"nonce": n2}, nil); err != nil {
		t.Fatal(err)
	}
	ra, _ = waitCardRead(t, cAtt, 30*time.Second)
	ts17 := &eidfile.TrustStore{}
	ts17.Add(p17.PKI.Root)
	res, err = (&verify.AttestationVerifier{Trust: ts17, Nonces: store}).VerifyAttestation(ra.Attestation, attesting, n2)
	if err != nil || res.Present || !res.Genuine {
		t.Fatalf("1.7 attestation: %v %+v", err, res)
	}
	in.Remove()
	nextEvent(t, cAtt, "card-removed", 10*time.Second)

	// Every push journaled (caller in the audit, which names the fields
	// released and never a value).
	j, err := proof.Open(filepath.Join(d.state, "proofs.jsonl"), proof.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	recs, err := j.Query(proof.Query{})
	j.Close()
	if err != nil {
		t.Fatal(err)
	}
	var pushes []string
	for _, e := range d.audit() {
		if e.Operation == "counter-read" {
			pushes = append(pushes, e.Caller+" "+strings.Join(e.Fields, ","))
		}
	}
	wantPushes := []string{
		desk + " identity.surname,identity.firstNames,address,photo",
		attesting + " identity,photo,attestation",
		desk + " identity.surname,identity.firstNames,address,photo",
		desk + " identity.surname,identity.firstNames,address,photo",
		attesting + " identity,photo,attestation",
	}
	slices.Sort(pushes)
	slices.Sort(wantPushes)
	if !slices.Equal(pushes, wantPushes) {
		t.Errorf("audited pushes %q, want %q", pushes, wantPushes)
	}
	counterRecs := 0
	var callers []string
	for _, r := range recs {
		if r.SSIN == want.NationalNumber || r.SSIN == want17.NationalNumber {
			counterRecs++
			if r.InputType != proof.InputChip {
				t.Errorf("proof input type %q", r.InputType)
			}
			callers = append(callers, r.Caller+" "+strings.Join(r.Fields, ","))
		}
	}
	// Each push's proof names its caller and what it received: the desk
	// never had the national number, the attesting application had it
	// with the attestation's identity file.
	slices.Sort(callers)
	wantCallers := []string{
		attesting + " bundle,identity,photo", attesting + " bundle,identity,photo",
		desk + " address,identity.firstNames,identity.surname,photo", desk + " address,identity.firstNames,identity.surname,photo",
		desk + " address,identity.firstNames,identity.surname,photo", other + " card",
	}
	slices.Sort(wantCallers)
	if !slices.Equal(callers, wantCallers) {
		t.Errorf("proofs' callers and fields %q, want %q", callers, wantCallers)
	}
	for _, r := range recs {
		if r.Caller == desk && r.SSINGivenTo(desk) {
			t.Error("a desk proof lists the SSIN as given to the desk, which never received it")
		}
	}
	// 5 pushes plus the other application's read of the 1.8 card.
	if counterRecs != 6 {
		t.Errorf("%d reading proofs, want 6 (5 pushes, 1 read)", counterRecs)
	}
	auditFile, _ := os.ReadFile(filepath.Join(d.state, "audit.jsonl"))
	for _, v := range []string{want.FirstNames, want.NationalNumber, want17.FirstNames, want17.NationalNumber} {
		if strings.Contains(string(auditFile), v) {
			t.Errorf("the audit journal holds %q", v)
		}
		if strings.Contains(d.Logs(), v) {
			t.Errorf("the agent's log holds %q", v)
		}
	}
}

func mustEventJSON(t *testing.T, e client.Event) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{"event": e.Event, "data": e.Data})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestConfigCounterKeys: `config example` documents the counter pairing
// and the chip budget; `config check` accepts [[counter]] in the policy
// file and refuses it, saying where it belongs, in the user's.
func TestConfigCounterKeys(t *testing.T) {
	home := t.TempDir()
	env := isolatedEnv(home)
	ex := execAgent(t, env, "", 30*time.Second, "config", "example")
	for _, want := range []string{"# [[counter]]", "# attestation = false", "[attestation]", "# per_insertion = 5", "# per_origin_hourly = 30"} {
		if !strings.Contains(ex.stdout, want) {
			t.Errorf("config example lacks %q", want)
		}
	}
	body := "[attestation]\nper_insertion = 3\n\n[[counter]]\nclient = \"https://desk.example\"\nfields = [\"identity.surname\", \"photo\"]\n"
	policy := filepath.Join(home, "no-policy.toml") // the policy path isolatedEnv names
	if err := os.WriteFile(policy, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := execAgent(t, env, "", 30*time.Second, "config", "check", policy); r.code != 0 {
		t.Errorf("config check of the policy: %d %s%s", r.code, r.stdout, r.stderr)
	}
	user := filepath.Join(home, "user.toml")
	if err := os.WriteFile(user, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	r := execAgent(t, env, "", 30*time.Second, "config", "check", user)
	if r.code != 1 || !strings.Contains(r.stderr, ":4: counter: counter applications are paired in the administrator's policy file only") {
		t.Errorf("config check of a user file with [[counter]]: %d %s", r.code, r.stderr)
	}
}
