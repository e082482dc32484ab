package verify

import (
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"testing"
)

func TestBelgianPolicies(t *testing.T) {
	for _, tc := range []struct {
		oid        asn1.ObjectIdentifier
		auth, sign bool
	}{
		{PolicyBelgianAuth, true, false},
		{PolicyBelgianTestAuth, true, false},
		{PolicyBelgianSign, false, true},
		{PolicyBelgianTestSign, false, true},
		{asn1.ObjectIdentifier{2, 16, 56, 9, 1, 1, 2, 2}, true, false}, // other root generation
		{asn1.ObjectIdentifier{2, 16, 56, 12, 1, 1, 4}, false, false},  // RRN
		{asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 2, 2}, false, false},  // not Belgian
	} {
		if isBelgianAuthPolicy(tc.oid) != tc.auth || isBelgianSignPolicy(tc.oid) != tc.sign {
			t.Errorf("%s: auth %v sign %v", tc.oid, isBelgianAuthPolicy(tc.oid), isBelgianSignPolicy(tc.oid))
		}
	}
}

func TestCheckPurpose(t *testing.T) {
	other := asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99, 1}
	for _, tc := range []struct {
		name     string
		usage    x509.KeyUsage
		eku      []x509.ExtKeyUsage
		policies []asn1.ObjectIdentifier
		extra    []asn1.ObjectIdentifier
		require  bool
		policyOK bool
		wantErr  bool
	}{
		{name: "auth", usage: x509.KeyUsageDigitalSignature, policies: []asn1.ObjectIdentifier{PolicyBelgianAuth}, policyOK: true},
		{name: "auth + clientAuth EKU", usage: x509.KeyUsageDigitalSignature, eku: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageEmailProtection}, policyOK: false},
		{name: "EKU without clientAuth", usage: x509.KeyUsageDigitalSignature, eku: []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection}, wantErr: true},
		{name: "nonRepudiation", usage: x509.KeyUsageContentCommitment, wantErr: true},
		{name: "both usages (RRN style)", usage: x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment, wantErr: true},
		{name: "signing policy only", usage: x509.KeyUsageDigitalSignature, policies: []asn1.ObjectIdentifier{PolicyBelgianSign}, wantErr: true},
		{name: "no policy tolerated", usage: x509.KeyUsageDigitalSignature},
		{name: "no policy required", usage: x509.KeyUsageDigitalSignature, require: true, wantErr: true},
		{name: "configured policy", usage: x509.KeyUsageDigitalSignature, policies: []asn1.ObjectIdentifier{other}, extra: []asn1.ObjectIdentifier{other}, require: true, policyOK: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &x509.Certificate{KeyUsage: tc.usage, ExtKeyUsage: tc.eku, PolicyIdentifiers: tc.policies}
			ok, err := checkPurpose(c, tc.extra, tc.require)
			if tc.wantErr != (err != nil) || (err != nil && !errors.Is(err, ErrNotAuthCert)) {
				t.Fatalf("err %v", err)
			}
			if err == nil && ok != tc.policyOK {
				t.Fatalf("policyOK %v", ok)
			}
		})
	}
}
