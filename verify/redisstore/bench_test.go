//go:build unix

package redisstore_test

import (
	"context"
	"testing"

	"github.com/eid-agent/eid-agent/internal/redistest"
	"github.com/eid-agent/eid-agent/verify/redisstore"
)

// BenchmarkStoreOps: the Redis round trips of one login (take the
// session's challenge, take the nonce, rotate the session) plus issuing
// the nonce, from 64 goroutines:
//
//	go test -run '^$' -bench StoreOps ./verify/redisstore
func BenchmarkStoreOps(b *testing.B) {
	srv := redistest.Start(b)
	st := redisstore.New(client(b, srv), redisstore.Options{})
	nonces, sess := st.Nonces(), st.Sessions(30*60e9)
	ctx := context.Background()
	b.SetParallelism(32) // 64 goroutines on 2 cores
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			n, err := nonces.Issue(ctx)
			if err != nil {
				b.Fatal(err)
			}
			if err := sess.Create(ctx, n, []byte("{}"), n, 60e9); err != nil {
				b.Fatal(err)
			}
			if _, _, err := sess.TakeChallenge(ctx, n); err != nil {
				b.Fatal(err)
			}
			if err := nonces.Take(n); err != nil {
				b.Fatal(err)
			}
			if err := sess.Rotate(ctx, n, n+"x", []byte("{}")); err != nil {
				b.Fatal(err)
			}
		}
	})
}
