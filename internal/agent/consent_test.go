package agent

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eid-agent/eid-agent/bridge"
	"github.com/eid-agent/eid-agent/internal/agent/audit"
)

var (
	site     = bridge.Caller{Origin: "https://hospital.example"}
	readID   = bridge.Operation{Kind: "read", Fields: []string{"identity"}}
	readMore = bridge.Operation{Kind: "read", Fields: []string{"identity", "photo"}}
	authOp   = bridge.Operation{Kind: "authenticate"}
)

func TestConsentAdminGrant(t *testing.T) {
	c := &Consent{Admin: map[string]bridge.Grant{site.Origin: {Fields: []string{"identity"}, Authenticate: true}}}
	if err := c.Allow(context.Background(), site, readID); err != nil {
		t.Errorf("granted read: %v", err)
	}
	if err := c.Allow(context.Background(), site, authOp); err != nil {
		t.Errorf("granted authenticate: %v", err)
	}
	for _, op := range []bridge.Operation{readMore, {Kind: "sign"}, {Kind: "isi"}} {
		if err := c.Allow(context.Background(), site, op); !errors.Is(err, bridge.ErrConsentDenied) {
			t.Errorf("%v beyond the grant: %v", op, err)
		}
	}
	if err := c.Allow(context.Background(), bridge.Caller{Origin: "https://other.example"}, readID); !errors.Is(err, bridge.ErrConsentDenied) {
		t.Errorf("other origin: %v", err)
	}
}

func TestConsentAskRememberRevoke(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "consent.json")
	log, err := audit.Open(filepath.Join(dir, "audit.jsonl"), audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var asked atomic.Int32
	answer := true
	c := &Consent{Path: path, Audit: log, DenyCooldown: 200 * time.Millisecond,
		Ask: func(ctx context.Context, caller bridge.Caller, op bridge.Operation) (bool, error) {
			asked.Add(1)
			return answer, nil
		}}
	ctx := context.Background()
	if err := c.Allow(ctx, site, readID); err != nil || asked.Load() != 1 {
		t.Fatalf("first read: %v, asked %d", err, asked.Load())
	}
	if err := c.Allow(ctx, site, readID); err != nil || asked.Load() != 1 {
		t.Fatalf("remembered read asked again: %v, asked %d", err, asked.Load())
	}
	// A restarted agent remembers (the file is the memory).
	c2 := &Consent{Path: path}
	if err := c2.Allow(ctx, site, readID); err != nil {
		t.Fatalf("after restart: %v", err)
	}
	// More fields than approved ask again.
	if err := c.Allow(ctx, site, readMore); err != nil || asked.Load() != 2 {
		t.Fatalf("wider read: %v asked %d", err, asked.Load())
	}
	list, err := ListConsent(path)
	if err != nil || len(list) != 1 || list[0].Subject != site.Origin || len(list[0].Permissions) != 2 {
		t.Fatalf("list %+v %v", list, err)
	}
	// Refusal: not remembered, and no new dialog during the cool-down.
	answer = false
	if err := c.Allow(ctx, site, authOp); !errors.Is(err, bridge.ErrConsentDenied) || asked.Load() != 3 {
		t.Fatalf("refused: %v asked %d", err, asked.Load())
	}
	if err := c.Allow(ctx, site, authOp); !errors.Is(err, bridge.ErrConsentDenied) || asked.Load() != 3 {
		t.Fatalf("cool-down: %v asked %d", err, asked.Load())
	}
	time.Sleep(250 * time.Millisecond)
	answer = true
	if err := c.Allow(ctx, site, authOp); err != nil || asked.Load() != 4 {
		t.Fatalf("after cool-down: %v asked %d", err, asked.Load())
	}
	// Revocation in the file takes effect in the running agent.
	if err := RevokeConsent(path, site.Origin); err != nil {
		t.Fatal(err)
	}
	answer = false
	if err := c.Allow(ctx, site, readID); !errors.Is(err, bridge.ErrConsentDenied) {
		t.Fatalf("after revoke: %v", err)
	}
	if err := RevokeConsent(path, site.Origin); !errors.Is(err, ErrNotRemembered) {
		t.Errorf("second revoke: %v", err)
	}
	entries, err := audit.ReadAll(filepath.Join(dir, "audit.jsonl"))
	if err != nil || len(entries) != 3 {
		t.Fatalf("audit %v %+v", err, entries)
	}
	for _, e := range entries {
		if e.Outcome != "CONSENT_DENIED" || e.Caller != site.Origin {
			t.Errorf("audit entry %+v", e)
		}
	}
}

func TestConsentDamagedFileRefuses(t *testing.T) {
	path := filepath.Join(t.TempDir(), "consent.json")
	os.WriteFile(path, []byte(`{"version":1,"grants":{"https://hospital.example":{"fields":["identity"]`), 0o600)
	c := &Consent{Path: path, Ask: func(context.Context, bridge.Caller, bridge.Operation) (bool, error) { return true, nil }}
	if err := c.Allow(context.Background(), site, readID); !errors.Is(err, ErrConsentFile) {
		t.Errorf("damaged file: %v", err)
	}
	if _, err := ListConsent(path); !errors.Is(err, ErrConsentFile) {
		t.Errorf("list damaged: %v", err)
	}
}

// Concurrent first requests get one dialog, not a stack of them.
func TestConsentOneDialogAtATime(t *testing.T) {
	var open, most atomic.Int32
	c := &Consent{Ask: func(ctx context.Context, caller bridge.Caller, op bridge.Operation) (bool, error) {
		n := open.Add(1)
		if n > most.Load() {
			most.Store(n)
		}
		time.Sleep(20 * time.Millisecond)
		open.Add(-1)
		return true, nil
	}}
	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := c.Allow(context.Background(), site, readID); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if most.Load() != 1 {
		t.Errorf("%d dialogs open at once", most.Load())
	}
}

// TestConsentReadingProof: a reading proof is approved as the fields it
// gives out (card and identity included): the dialog names them and the
// proof, the approval is remembered as those fields, and a site granted
// only "card" is asked again rather than let through.
func TestConsentReadingProof(t *testing.T) {
	var questions []string
	c := &Consent{Admin: map[string]bridge.Grant{site.Origin: {Fields: []string{"card"}}},
		Ask: func(ctx context.Context, caller bridge.Caller, op bridge.Operation) (bool, error) {
			questions = append(questions, ConsentQuestion(caller, op))
			return true, nil
		}}
	op := bridge.Operation{Kind: "reading-proof", Fields: bridge.ReadingProofFields([]string{"card"})}
	if err := c.Allow(context.Background(), site, op); err != nil || len(questions) != 1 {
		t.Fatalf("reading-proof with card granted: %v, asked %d", err, len(questions))
	}
	if q := questions[0]; !contains(q, "card, identity") || !contains(q, "national number") || !contains(q, "reading proof") {
		t.Errorf("question %q", q)
	}
	// Remembered as fields: a read of the identity is covered now, the
	// photo is not.
	for _, tt := range []struct {
		op    bridge.Operation
		asked int
	}{{readID, 1}, {op, 1}, {readMore, 2}} {
		if err := c.Allow(context.Background(), site, tt.op); err != nil || len(questions) != tt.asked {
			t.Errorf("%+v: %v, asked %d", tt.op, err, len(questions))
		}
	}
}

// TestConsentProofsAll: listing every caller's proofs is granted by the
// administrator only: never asked in a dialog, never taken from the
// remembered decisions (even a hand-edited file), refused and audited
// otherwise.
func TestConsentProofsAll(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "consent.json")
	// A file that claims the permission, as a page cannot write but a
	// careless edit could.
	os.WriteFile(path, []byte(`{"version":1,"grants":{"https://hospital.example":{"fields":["identity"],"other":["proofs-all"],"updated":"2026-01-01T00:00:00Z"}}}`), 0o600)
	log, err := audit.Open(filepath.Join(dir, "audit.jsonl"), audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	all := bridge.Operation{Kind: "proofs-all"}
	c := &Consent{Path: path, Audit: log, Admin: map[string]bridge.Grant{"https://billing.example": {AllProofs: true}},
		Ask: func(ctx context.Context, caller bridge.Caller, op bridge.Operation) (bool, error) {
			t.Errorf("a dialog was shown for %+v", op)
			return true, nil
		}}
	if !AdminOnly(all) || AdminOnly(readID) {
		t.Error("AdminOnly")
	}
	if err := c.Allow(context.Background(), site, all); !errors.Is(err, bridge.ErrConsentDenied) {
		t.Errorf("proofs-all without the administrator: %v", err)
	}
	if err := c.Allow(context.Background(), bridge.Caller{Origin: "https://billing.example"}, all); err != nil {
		t.Errorf("proofs-all granted by the administrator: %v", err)
	}
	// The administrator's proofs-all gives no read (no dialog here).
	noDialog := &Consent{Admin: c.Admin}
	if err := noDialog.Allow(context.Background(), bridge.Caller{Origin: "https://billing.example"}, readID); !errors.Is(err, bridge.ErrConsentDenied) {
		t.Errorf("read by the proofs-all site: %v", err)
	}
	entries, err := audit.ReadAll(filepath.Join(dir, "audit.jsonl"))
	if err != nil || len(entries) != 1 || entries[0].Operation != "proofs-all" || entries[0].Outcome != "CONSENT_DENIED" || entries[0].Caller != site.Origin {
		t.Errorf("audit %v %+v", err, entries)
	}
}

func TestConsentQuestion(t *testing.T) {
	q := ConsentQuestion(site, readMore)
	if q == "" || !contains(q, "https://hospital.example") || !contains(q, "identity, photo") {
		t.Errorf("question %q", q)
	}
	if q := ConsentQuestion(bridge.Caller{App: "billing"}, bridge.Operation{Kind: "sign"}); !contains(q, "application billing") || !contains(q, "legally binding") {
		t.Errorf("question %q", q)
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
