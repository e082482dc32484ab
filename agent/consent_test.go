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

	"github.com/eid-agent/eid-agent/agent/audit"
	"github.com/eid-agent/eid-agent/bridge"
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
