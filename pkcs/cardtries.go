package pkcs

import (
	"context"

	"github.com/eid-agent/eid-agent/card"
)

// cardTriesFor returns the card-side PIN count for reader, for pinAsker.
//
// PKCS#11 tells the tries left only through three token flags (count low,
// final try, locked), and OpenSC's belpic driver sets "count low" only
// when it knows the PIN's maximum, which it does not for the Belgian eID:
// after a first wrong PIN its flags say nothing. The card itself tells,
// without spending a try, on applets 1.7 and 1.8 (GET CARD DATA P2=01 on
// 1.8, the empty VERIFY status query on 1.7; ref §5.1, §7.3), through a
// PC/SC connection of our own beside the module's: shared, no SELECT (the
// module's idea of the current file stays right), left powered on
// disconnect (the module's login stays). On applet 1.1 the status query
// would itself be a wrong try, so nothing is sent and the count stays
// unknown. Any failure (no such PC/SC reader, as with SoftHSM; no pcscd)
// is "unknown" too: the count is information, never a reason to fail.
func (m *Module) cardTriesFor(reader string) func(ctx context.Context) int {
	return func(ctx context.Context) int {
		if reader == "" {
			return -1
		}
		f := m.opts.CardPINTries
		if f == nil {
			f = pcscPINTries
		}
		n, err := f(ctx, reader)
		if err != nil || n < 0 {
			return -1
		}
		return n
	}
}

// pcscPINTries is card.Card.PINStatus on a connection of its own.
func pcscPINTries(_ context.Context, reader string) (int, error) {
	pc, err := card.NewContext()
	if err != nil {
		return -1, err
	}
	defer pc.Release()
	c, err := pc.Connect(reader)
	if err != nil {
		return -1, err
	}
	defer c.Close()
	return c.PINStatus()
}
