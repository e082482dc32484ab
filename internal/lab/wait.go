package lab

import (
	"errors"
	"testing"
	"time"

	"github.com/ebfe/scard"
)

// WaitCard blocks in GetStatusChange (never a fixed sleep) until reader
// holds a card (present) or is empty, failing the test after 10 s. pcscd
// notices an insertion or removal at its next presence poll (every 400 ms).
func WaitCard(t testing.TB, ctx *scard.Context, reader string, present bool) {
	t.Helper()
	st := []scard.ReaderState{{Reader: reader, CurrentState: scard.StateUnaware}}
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := ctx.GetStatusChange(st, 2*time.Second)
		if err != nil && !errors.Is(err, scard.ErrTimeout) {
			t.Fatalf("GetStatusChange %s: %v (is the lab running? scripts/pcsc-lab status)", reader, err)
		}
		ev := st[0].EventState
		st[0].CurrentState = ev
		if present && ev&scard.StatePresent != 0 || !present && ev&scard.StateEmpty != 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("reader %q: card present=%v not reached (slot used by another test?)", reader, present)
		}
	}
}
