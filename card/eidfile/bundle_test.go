package eidfile

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

// A bundle made from the files a read gave, sent as JSON and unpacked,
// verifies to the same Reading as the files themselves.
func TestBundleRoundTrip(t *testing.T) {
	now := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for name := range dumpFiles {
		t.Run(name, func(t *testing.T) {
			f := loadDump(t, name)
			f.ATR = nil // not part of a bundle
			b := NewBundle(f)
			if b.Format != BundleFormat {
				t.Fatalf("format %q", b.Format)
			}
			js, err := json.Marshal(b)
			if err != nil {
				t.Fatal(err)
			}
			var back Bundle
			if err := json.Unmarshal(js, &back); err != nil {
				t.Fatal(err)
			}
			ts := &TrustStore{}
			if f.RootCert != nil {
				ts = trustDumpRoot(t, f)
			}
			want, err := DecodeVerify(f, ts, now)
			if err != nil {
				t.Fatal(err)
			}
			got, err := DecodeVerify(back.Files(), ts, now)
			if err != nil {
				t.Fatal(err)
			}
			// The bundle carries the RRN and root certificates only.
			if got.Certificates == nil || !bytes.Equal(got.Certificates.RRN, want.Certificates.RRN) || !bytes.Equal(got.Certificates.Root, want.Certificates.Root) {
				t.Fatal("RRN or root certificate lost in the bundle")
			}
			if got.Certificates.Authentication != nil || got.Certificates.Signing != nil || got.Certificates.CA != nil {
				t.Fatal("bundle carries user certificates")
			}
			got.Certificates, want.Certificates = nil, nil
			if !reflect.DeepEqual(got, want) {
				gj, _ := json.Marshal(got)
				wj, _ := json.Marshal(want)
				t.Fatalf("bundle reading differs:\n got %.600s\nwant %.600s", gj, wj)
			}
			if want.Integrity.Identity != Valid {
				t.Fatalf("identity verdict %q (%s): the dump should verify", want.Integrity.Identity, want.Integrity.IdentityDetail)
			}
		})
	}
}

// The JSON member names are the documented contract (docs/verify.md).
func TestBundleJSONNames(t *testing.T) {
	b := NewBundle(&Files{
		CardData: []byte{1}, Identity: []byte{2}, IdentitySignature: []byte{3},
		Address: []byte{4}, AddressSignature: []byte{5}, Photo: []byte{6},
		BasicKey: []byte{7}, RRNCert: []byte{8}, RootCert: []byte{9},
		// Not carried: see Bundle.
		AuthCert: []byte{10}, Challenge: []byte{11}, ChallengeSignature: []byte{12}, ATR: []byte{13},
	})
	js, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"format":"eid-bundle:1","cardData":"AQ==","identity":"Ag==","identitySignature":"Aw==","address":"BA==","addressSignature":"BQ==","photo":"Bg==","basicKey":"Bw==","rrnCertificate":"CA==","rootCertificate":"CQ=="}`
	if string(js) != want {
		t.Fatalf("got  %s\nwant %s", js, want)
	}
	empty, _ := json.Marshal(NewBundle(&Files{}))
	if string(empty) != `{"format":"eid-bundle:1","identity":null,"identitySignature":null,"rrnCertificate":null}` {
		t.Fatalf("empty bundle %s", empty)
	}
	if nb := NewBundle(nil); nb.Format != BundleFormat || nb.Identity != nil {
		t.Fatalf("NewBundle(nil) = %+v", nb)
	}
}

// NewBundle copies: changing the files afterwards does not change it.
func TestNewBundleCopies(t *testing.T) {
	f := &Files{Identity: []byte{1, 2, 3}}
	b := NewBundle(f)
	f.Identity[0] = 9
	if b.Identity[0] != 1 {
		t.Fatal("bundle shares the files' memory")
	}
}
