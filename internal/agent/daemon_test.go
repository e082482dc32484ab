package agent

import (
	"context"
	"errors"
	"net"
	"net/http"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/eid-agent/eid-agent/bridge"
	"github.com/eid-agent/eid-agent/card/eidfile"
	"github.com/eid-agent/eid-agent/internal/agent/config"
)

// TestDaemonConsentGrants starts the daemon (without serving: nothing
// here needs a reader) and checks what its consent store grants. The
// administrator grants are exactly the configuration's: the demo page's
// grant, whose origins are known only once the agent listens, is the
// separate Pages rule, so the store's inputs are complete when it is
// built (the page's origins used to be written into Admin after the store
// held it). The page gets everything but proofs-all, on top of any
// configured grant, and only in simulate mode with the pages served.
func TestDaemonConsentGrants(t *testing.T) {
	const billing = "https://billing.example"
	tests := []struct {
		name        string
		simulate    bool
		pages       bool
		pageGranted bool
	}{
		{"simulate with pages", true, true, true},
		{"simulate without pages", true, false, false},
		{"readers with pages", false, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := config.Defaults()
			cfg.Listen = []string{"127.0.0.1:0"}
			cfg.Simulate = tt.simulate
			cfg.StateDir = dir
			cfg.Audit.Path = filepath.Join(dir, "audit.jsonl")
			cfg.PINPrompt, cfg.ConsentPrompt = "none", "none"
			cfg.Grants = []config.Grant{{Origin: billing, Permissions: []string{"identity", "proofs-all"}, FromPolicy: true}}
			d := &Daemon{Config: cfg, Version: "test"}
			if tt.pages {
				d.Pages = func(*eidfile.TrustStore) http.Handler { return http.NotFoundHandler() }
			}
			if err := d.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				d.srv.Close()
				d.backend.Close()
				d.audit.Close()
			})
			want := map[string]bridge.Grant{billing: {Fields: []string{"identity"}, AllProofs: true}}
			if !reflect.DeepEqual(d.consent.Admin, want) {
				t.Errorf("administrator grants %+v, want the configuration's only: %+v", d.consent.Admin, want)
			}
			if got := d.consent.Pages != nil; got != tt.pageGranted {
				t.Errorf("page rule set %v, want %v", got, tt.pageGranted)
			}
			ctx := context.Background()
			page := bridge.Caller{Origin: "http://" + d.Addrs()[0].String()}
			for _, op := range []bridge.Operation{{Kind: "sign"}, {Kind: "authenticate"}, {Kind: "read", Fields: []string{"identity", "photo", "bundle"}}} {
				if err := d.consent.Allow(ctx, page, op); (err == nil) != tt.pageGranted {
					t.Errorf("page %s: %v, want granted %v", op.Kind, err, tt.pageGranted)
				}
			}
			if err := d.consent.Allow(ctx, page, bridge.Operation{Kind: "proofs-all"}); !errors.Is(err, bridge.ErrConsentDenied) {
				t.Errorf("page proofs-all: %v, want denied (an administrator's grant only)", err)
			}
			for _, other := range []string{"http://127.0.0.1:1", "http://localhost:" + portOf(page.Origin)} {
				if err := d.consent.Allow(ctx, bridge.Caller{Origin: other}, bridge.Operation{Kind: "sign"}); !errors.Is(err, bridge.ErrConsentDenied) {
					t.Errorf("%s sign: %v, want denied", other, err)
				}
			}
			if err := d.consent.Allow(ctx, bridge.Caller{Origin: billing}, bridge.Operation{Kind: "proofs-all"}); err != nil {
				t.Errorf("configured proofs-all: %v", err)
			}
			if err := d.consent.Allow(ctx, bridge.Caller{Origin: billing}, bridge.Operation{Kind: "sign"}); !errors.Is(err, bridge.ErrConsentDenied) {
				t.Errorf("billing sign beyond its grant: %v", err)
			}
		})
	}
}

// TestConsentPagesMergeWithAdmin: a page origin an administrator also
// granted proofs-all gets both, and the merge never changes Admin.
func TestConsentPagesMergeWithAdmin(t *testing.T) {
	const page = "http://127.0.0.1:8877"
	admin := map[string]bridge.Grant{page: {Fields: make([]string, 1, 8), AllProofs: true}}
	admin[page].Fields[0] = "identity"
	c := &Consent{Admin: admin, Pages: func() []string { return []string{page} }, PagePermissions: config.Permissions()}
	ctx := context.Background()
	for _, op := range []bridge.Operation{{Kind: "proofs-all"}, {Kind: "sign"}, {Kind: "read", Fields: []string{"identity", "address"}}} {
		if err := c.Allow(ctx, bridge.Caller{Origin: page}, op); err != nil {
			t.Errorf("%s: %v", op.Kind, err)
		}
	}
	if g := admin[page]; len(g.Fields) != 1 || g.Sign || g.Fields[:2][1] != "" {
		t.Errorf("Admin changed by a decision: %+v (array %q)", g, g.Fields[:2])
	}
}

func portOf(origin string) string {
	_, port, _ := net.SplitHostPort(origin[len("http://"):])
	return port
}
