package pkcs

import (
	"bytes"
	"context"
	"fmt"

	"github.com/miekg/pkcs11"

	"github.com/eid-agent/eid-agent/card"
)

// keyIdentity is how the card names a key and its certificate: the PKCS#15
// label and id (ref §3.2, §8.1). The Belgian middleware and OpenSC both
// expose them as CKA_LABEL and CKA_ID.
type keyIdentity struct {
	id    []byte
	label string
}

var identities = map[card.KeyRole]keyIdentity{
	card.KeyAuthentication: {id: []byte{0x02}, label: "Authentication"},
	card.KeySigning:        {id: []byte{0x03}, label: "Signature"},
}

func identityOf(role card.KeyRole) (keyIdentity, error) {
	ki, ok := identities[role]
	if !ok {
		return keyIdentity{}, fmt.Errorf("pkcs: unknown key role %q", role)
	}
	return ki, nil
}

// findObject returns the object of class with the role's CKA_ID, or with
// its CKA_LABEL when no object has that id; among several with the id, the
// one also carrying the label. found is false when nothing matches (which,
// for private objects, may only mean "not logged in yet"). Handles are
// cached for the session.
func (l *lease) findObject(ctx context.Context, class uint, ki keyIdentity) (h pkcs11.ObjectHandle, found bool, err error) {
	cacheKey := fmt.Sprintf("%d/%x/%s", class, ki.id, ki.label)
	if h, ok := l.s.objects[cacheKey]; ok {
		return h, true, nil
	}
	byID, err := l.find(ctx, []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, class),
		pkcs11.NewAttribute(pkcs11.CKA_ID, ki.id),
	})
	if err != nil {
		return 0, false, err
	}
	switch {
	case len(byID) == 1:
		h, found = byID[0], true
	case len(byID) > 1:
		h, found = byID[0], true
		for _, c := range byID {
			label, err := l.attribute(ctx, c, pkcs11.CKA_LABEL)
			if err != nil {
				return 0, false, err
			}
			if bytes.Equal(label, []byte(ki.label)) {
				h = c
				break
			}
		}
	default:
		byLabel, err := l.find(ctx, []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_CLASS, class),
			pkcs11.NewAttribute(pkcs11.CKA_LABEL, ki.label),
		})
		if err != nil {
			return 0, false, err
		}
		if len(byLabel) == 0 {
			return 0, false, nil
		}
		h, found = byLabel[0], true
	}
	l.s.objects[cacheKey] = h
	return h, found, nil
}

// find runs one C_FindObjects search, always finishing it so that the
// session can search again.
func (l *lease) find(ctx context.Context, template []*pkcs11.Attribute) ([]pkcs11.ObjectHandle, error) {
	var handles []pkcs11.ObjectHandle
	err := l.call(ctx, "C_FindObjects", func(p *pkcs11.Ctx) error {
		if err := p.FindObjectsInit(l.s.session, template); err != nil {
			return err
		}
		var ferr error
		for {
			hs, _, err := p.FindObjects(l.s.session, 16)
			if err != nil {
				ferr = err
				break
			}
			if len(hs) == 0 {
				break
			}
			handles = append(handles, hs...)
		}
		if err := p.FindObjectsFinal(l.s.session); err != nil && ferr == nil {
			ferr = err
		}
		return ferr
	})
	if err != nil {
		// handles may still be written by a call that timed out.
		return nil, l.fail(ctx, err)
	}
	return handles, nil
}

// attribute reads one attribute of an object. One per call: a module
// answers CKR_ATTRIBUTE_TYPE_INVALID for the whole template when it does
// not know one of them.
func (l *lease) attribute(ctx context.Context, h pkcs11.ObjectHandle, typ uint) ([]byte, error) {
	var attrs []*pkcs11.Attribute
	err := l.call(ctx, "C_GetAttributeValue", func(p *pkcs11.Ctx) (err error) {
		attrs, err = p.GetAttributeValue(l.s.session, h, []*pkcs11.Attribute{pkcs11.NewAttribute(typ, nil)})
		return err
	})
	if err != nil {
		return nil, l.fail(ctx, err)
	}
	if len(attrs) != 1 {
		return nil, fmt.Errorf("C_GetAttributeValue: %d attributes for 1", len(attrs))
	}
	return attrs[0].Value, nil
}

// boolAttribute reads a CK_BBOOL; an attribute the module does not know
// is false.
func (l *lease) boolAttribute(ctx context.Context, h pkcs11.ObjectHandle, typ uint) (bool, error) {
	v, err := l.attribute(ctx, h, typ)
	if hasCode(err, pkcs11.CKR_ATTRIBUTE_TYPE_INVALID) || hasCode(err, pkcs11.CKR_ATTRIBUTE_SENSITIVE) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return len(v) > 0 && v[0] != 0, nil
}

// anyCertificate tells whether the session sees at least one certificate.
func (l *lease) anyCertificate(ctx context.Context) (bool, error) {
	hs, err := l.find(ctx, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_CERTIFICATE)})
	return len(hs) > 0, err
}
