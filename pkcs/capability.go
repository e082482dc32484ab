package pkcs

import (
	"context"
	"fmt"

	"github.com/miekg/pkcs11"

	"github.com/eid-agent/eid-agent/card"
)

// SupportsECDSA tells, without a login, whether the token in reader can
// make ECDSA signatures (lists CKM_ECDSA). Applet 1.8 cards have EC keys
// only; a module without ECDSA for them (OpenSC before 0.27) would ask for
// the PIN to show its objects and then fail, so callers check first and
// take another signing path.
func (m *Module) SupportsECDSA(ctx context.Context, reader string) (bool, error) {
	s, err := m.SlotForReader(ctx, reader)
	if err != nil {
		return false, err
	}
	if !s.TokenPresent {
		return false, fmt.Errorf("%w: %s", card.ErrNoCard, s.Reader)
	}
	l, err := m.acquire(ctx, s.ID)
	if err != nil {
		return false, err
	}
	defer l.release()
	if err := l.ensureSession(ctx, ""); err != nil {
		return false, err
	}
	mechs, err := l.mechanisms(ctx)
	if err != nil {
		return false, err
	}
	return mechs[pkcs11.CKM_ECDSA], nil
}
