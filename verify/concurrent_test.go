package verify

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
)

// TestValidateConcurrent: one shared Validator (nonce store and OCSP cache)
// under parallel logins, and a token raced against itself. Run with -race.
func TestValidateConcurrent(t *testing.T) {
	f := newFixture(t)
	// 64 parallel requests under -race can be slow: the timeout is not
	// what this test is about.
	f.v.OCSP.Timeout = DefaultOCSPTimeout
	const logins = 32
	toks := make([][]byte, logins)
	nonces := make([]string, logins)
	for i := range toks {
		nonces[i] = f.nonce(t)
		c := f.pki.authEC
		if i%4 == 0 {
			c = f.pki.authRSA
		}
		toks[i] = agentToken(t, c, origin, nonces[i], false)
	}
	replayNonce := f.nonce(t)
	replayTok := agentToken(t, f.pki.authEC, origin, replayNonce, false)

	var wg sync.WaitGroup
	var fails, replayWins, replayRejects atomic.Int32
	for i := range toks {
		wg.Add(2)
		go func() {
			defer wg.Done()
			if _, err := f.v.Validate(context.Background(), toks[i], origin, nonces[i]); err != nil {
				t.Error(err)
				fails.Add(1)
			}
		}()
		go func() {
			defer wg.Done()
			_, err := f.v.Validate(context.Background(), replayTok, origin, replayNonce)
			switch {
			case err == nil:
				replayWins.Add(1)
			case errors.Is(err, ErrNonceReplayed):
				replayRejects.Add(1)
			default:
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if replayWins.Load() != 1 || replayRejects.Load() != logins-1 {
		t.Fatalf("replayed token: %d accepted, %d rejected", replayWins.Load(), replayRejects.Load())
	}
	// Two certificates: the cache should keep the responder's load near two
	// (parallel first requests may each miss the cache).
	if h := f.resp.hits.Load(); h < 2 || h > 2*logins {
		t.Fatalf("responder hits %d", h)
	}
}
