package eidfile

import (
	"crypto/x509/pkix"
	"encoding/asn1"
)

var (
	oidRSAEncryption = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}
	oidECPublicKey   = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}
)

// certificatePrefix is the start of an X.509 certificate down to the
// subject public key's algorithm. encoding/asn1 ignores the elements that
// follow, so a certificate crypto/x509 would refuse for an unrelated reason
// still tells its key family.
type certificatePrefix struct {
	TBS struct {
		Version   int `asn1:"optional,explicit,default:0,tag:0"`
		Serial    asn1.RawValue
		Signature asn1.RawValue
		Issuer    asn1.RawValue
		Validity  asn1.RawValue
		Subject   asn1.RawValue
		PublicKey struct {
			Algorithm pkix.AlgorithmIdentifier
			Key       asn1.BitString
		}
	}
}

// keyFamily says which PKI the National Register used, from the key of its
// certificate (503C): "ec" or "rsa". A 1.7 card re-keyed to the EC PKI keeps
// applet version 17, so the certificate is what tells (ref §1.2, §9.2).
// It is "" when there is no certificate or it cannot be read; Verify
// reports that.
func keyFamily(der []byte) string {
	var c certificatePrefix
	if der == nil {
		return ""
	}
	if _, err := asn1.Unmarshal(der, &c); err != nil {
		return ""
	}
	switch alg := c.TBS.PublicKey.Algorithm.Algorithm; {
	case alg.Equal(oidECPublicKey):
		return "ec"
	case alg.Equal(oidRSAEncryption):
		return "rsa"
	}
	return ""
}
