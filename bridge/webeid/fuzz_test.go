package webeid

import (
	"net/url"
	"strings"
	"testing"
)

// FuzzValidateOrigin: an accepted origin is always exactly
// scheme://host[:port] with an allowed scheme, whatever the input.
func FuzzValidateOrigin(f *testing.F) {
	for _, s := range []string{"https://ria.ee", "https://a:1", "http://localhost:1", "https://ria.ee/", "https://[::1]:443", "https://x?#", "wss://h"} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, origin string, dev bool) {
		if ValidateOrigin(origin, OriginOptions{AllowHTTPLoopback: dev}) != nil {
			return
		}
		u, err := url.Parse(origin)
		if err != nil || u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil || len(origin) > MaxOriginLength {
			t.Fatalf("accepted %q", origin)
		}
		if strings.ContainsAny(origin, "/?#@") && strings.Count(origin, "/") != 2 {
			t.Fatalf("accepted %q", origin)
		}
		if u.Scheme == "http" && (!dev || !IsLoopbackHost(u.Hostname())) {
			t.Fatalf("accepted http %q", origin)
		}
		if u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "wss" {
			t.Fatalf("accepted scheme %q", origin)
		}
	})
}

// FuzzValidateNonce: an accepted nonce has 44..128 characters and at least
// 32 decoded bytes.
func FuzzValidateNonce(f *testing.F) {
	f.Add(testNonce)
	f.Add(strings.Repeat("A", 44))
	f.Add(strings.Repeat("-_", 30))
	f.Fuzz(func(t *testing.T, nonce string) {
		if ValidateNonce(nonce) != nil {
			return
		}
		b, err := decodeBase64(nonce)
		if len(nonce) < 44 || len(nonce) > 128 || err != nil || len(b) < 32 {
			t.Fatalf("accepted %q", nonce)
		}
	})
}
