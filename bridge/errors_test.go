package bridge_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/eid-agent/eid-agent/bridge"
	"github.com/eid-agent/eid-agent/card"
)

func TestCatalogComplete(t *testing.T) {
	seen := map[string]bool{}
	for code, m := range bridge.Catalog {
		for lang, s := range map[string]string{"en": m.EN, "nl": m.NL, "fr": m.FR, "de": m.DE} {
			if s == "" {
				t.Errorf("%s has no %s message", code, lang)
			}
		}
		if m.NL == m.EN || m.FR == m.EN || m.DE == m.EN {
			t.Errorf("%s: a translation equals the English", code)
		}
		if seen[m.EN] {
			t.Errorf("%s: duplicate message", code)
		}
		seen[m.EN] = true
	}
}

func TestToError(t *testing.T) {
	for _, tc := range []struct {
		err  error
		code bridge.Code
	}{
		{fmt.Errorf("x: %w", card.ErrNoReader), bridge.CodeNoReader},
		{card.ErrNoCard, bridge.CodeNoCard},
		{fmt.Errorf("reading: %w", card.ErrCardRemoved), bridge.CodeCardRemoved},
		{card.ErrUnsupportedCard, bridge.CodeNotBelpic},
		{&card.PINError{Retries: 2}, bridge.CodePINWrong},
		{card.ErrPINBlocked, bridge.CodePINBlocked},
		{card.ErrPINCancelled, bridge.CodePINCancelled},
		{card.ErrPINTimeout, bridge.CodePINTimeout},
		{card.ErrNoKey, bridge.CodeNoKey},
		{bridge.ErrConsentDenied, bridge.CodeConsentDenied},
		{context.DeadlineExceeded, bridge.CodeBusyTimeout},
		{context.Canceled, bridge.CodeCancelled},
		{bridge.NewError(bridge.CodeBusyTimeout, ""), bridge.CodeBusyTimeout},
		{errors.New("secret internal path /home/x"), bridge.CodeInternal},
	} {
		e := bridge.ToError(tc.err)
		if e.Code != tc.code {
			t.Errorf("%v: %s, want %s", tc.err, e.Code, tc.code)
		}
		if tc.code == bridge.CodeInternal && e.Detail != "" {
			t.Errorf("internal detail leaked: %q", e.Detail)
		}
	}
	if e := bridge.ToError(&card.PINError{Retries: 1}); e.Retries == nil || *e.Retries != 1 {
		t.Errorf("retries %v", e.Retries)
	}
}

func TestMemoryConsent(t *testing.T) {
	m := bridge.NewMemoryConsent(map[string]bridge.Grant{"https://a.example": {Fields: []string{"identity"}, Authenticate: true}})
	a := bridge.Caller{Origin: "https://a.example"}
	ctx := context.Background()
	for _, tc := range []struct {
		caller bridge.Caller
		op     bridge.Operation
		ok     bool
	}{
		{a, bridge.Operation{Kind: "read", Fields: []string{"identity"}}, true},
		{a, bridge.Operation{Kind: "read", Fields: []string{"identity", "photo"}}, false},
		{a, bridge.Operation{Kind: "authenticate"}, true},
		{a, bridge.Operation{Kind: "sign"}, false},
		{a, bridge.Operation{Kind: "other"}, false},
		{bridge.Caller{Origin: "https://b.example"}, bridge.Operation{Kind: "authenticate"}, false},
		{bridge.Caller{App: "https://a.example"}, bridge.Operation{Kind: "authenticate"}, false},
	} {
		if err := m.Allow(ctx, tc.caller, tc.op); (err == nil) != tc.ok {
			t.Errorf("%v %v: %v", tc.caller, tc.op, err)
		}
	}
	m.Revoke("https://a.example")
	if m.Allow(ctx, a, bridge.Operation{Kind: "authenticate"}) == nil {
		t.Error("revoked grant still allows")
	}
}
