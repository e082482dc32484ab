//go:build unix

package redisstore_test

import (
	"context"
	"crypto/x509"
	"errors"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eid-agent/eid-agent/internal/testkit"

	"github.com/redis/go-redis/v9"

	"github.com/eid-agent/eid-agent/internal/redistest"
	"github.com/eid-agent/eid-agent/verify"
	"github.com/eid-agent/eid-agent/verify/redisstore"
)

// client is one "instance": its own client and connection pool.
func client(t testing.TB, srv *redistest.Server) *redis.Client {
	t.Helper()
	c, err := redisstore.NewClient(srv.URL(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestNonces(t *testing.T) {
	srv := redistest.Start(t)
	c := client(t, srv)
	clock := testkit.NewClock(time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC))
	s := redisstore.New(c, redisstore.Options{Now: clock.Now, Prefix: "t:"}).Nonces()
	ctx := context.Background()

	a, err := s.Issue(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != 44 {
		t.Fatalf("nonce %q", a)
	}
	// The key names a digest: reading Redis gives no nonce away.
	keys, err := c.Keys(ctx, "*").Result()
	if err != nil || len(keys) != 1 || !strings.HasPrefix(keys[0], "t:nonce:") || strings.Contains(keys[0], a) {
		t.Fatalf("keys %v (%v)", keys, err)
	}
	// Redis expires it after lifetime + grace (5 + 5 minutes).
	if ttl := c.PTTL(ctx, keys[0]).Val(); ttl <= 9*time.Minute || ttl > 10*time.Minute {
		t.Fatalf("TTL %s, want 10 minutes", ttl)
	}
	for _, st := range []struct {
		name    string
		advance time.Duration
		nonce   string
		want    error
	}{
		{"unknown", 0, "never-issued", verify.ErrNonceUnknown},
		{"first take", 4 * time.Minute, a, nil},
		{"second take", 0, a, verify.ErrNonceReplayed},
		{"third take", time.Minute, a, verify.ErrNonceReplayed},
	} {
		clock.Add(st.advance)
		if err := s.Take(st.nonce); !errors.Is(err, st.want) || (st.want == nil) != (err == nil) {
			t.Fatalf("%s: got %v, want %v", st.name, err, st.want)
		}
	}
	// The used mark keeps the key's TTL: it goes when the nonce would have.
	if ttl := c.PTTL(ctx, keys[0]).Val(); ttl <= 0 || ttl > 10*time.Minute {
		t.Fatalf("used nonce TTL %s", ttl)
	}

	b, _ := s.Issue(ctx)
	clock.Add(verify.DefaultNonceLifetime)
	if err := s.Take(b); !errors.Is(err, verify.ErrNonceExpired) {
		t.Fatalf("at expiry: %v", err)
	}
	if err := s.Take(b); !errors.Is(err, verify.ErrNonceReplayed) {
		t.Fatalf("after an expired take: %v", err)
	}
	if err := s.Put(b, clock.Now().Add(time.Minute)); err == nil || errors.Is(err, verify.ErrStoreUnavailable) {
		t.Fatalf("re-issuing a known nonce: %v", err)
	}
	// Gone from Redis (its TTL elapsed): unknown, as in the memory store
	// after its grace period.
	if err := c.Del(ctx, keys[0]).Err(); err != nil {
		t.Fatal(err)
	}
	if err := s.Take(a); !errors.Is(err, verify.ErrNonceUnknown) {
		t.Fatalf("after expiry by Redis: %v", err)
	}
	// Something else wrote the key: refused, never accepted.
	if err := c.Set(ctx, keys[0], "garbage", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	if err := s.Take(a); !errors.Is(err, verify.ErrNonceUnknown) {
		t.Fatalf("foreign value: %v", err)
	}
}

// TestNoncesRedisTTL: Redis drops the nonce by itself (short lifetime
// and grace, real clock).
func TestNoncesRedisTTL(t *testing.T) {
	srv := redistest.Start(t)
	s := redisstore.New(client(t, srv), redisstore.Options{NonceLifetime: 50 * time.Millisecond, NonceGrace: 50 * time.Millisecond}).Nonces()
	n, err := s.Issue(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// Wait until Redis has expired the key; how long it takes is not what
	// is tested, so the loop only bounds it.
	for i := 0; ; i++ {
		err := s.Take(n)
		if errors.Is(err, verify.ErrNonceUnknown) {
			break
		}
		if i == 200 {
			t.Fatalf("still there after 10 s: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestNoncesTakeOnce: 100 concurrent takes of one nonce from two
// instances (two clients, two pools): exactly one wins.
func TestNoncesTakeOnce(t *testing.T) {
	srv := redistest.Start(t)
	a := redisstore.New(client(t, srv), redisstore.Options{}).Nonces()
	b := redisstore.New(client(t, srv), redisstore.Options{}).Nonces()
	for round := range 3 {
		n, err := a.Issue(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		var wins, replays atomic.Int32
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range 100 {
			s := a
			if i%2 == 1 {
				s = b
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				switch err := s.Take(n); {
				case err == nil:
					wins.Add(1)
				case errors.Is(err, verify.ErrNonceReplayed):
					replays.Add(1)
				default:
					t.Error(err)
				}
			}()
		}
		close(start)
		wg.Wait()
		if wins.Load() != 1 || replays.Load() != 99 {
			t.Fatalf("round %d: %d wins, %d replays", round, wins.Load(), replays.Load())
		}
	}
}

func TestOCSPCache(t *testing.T) {
	srv := redistest.Start(t)
	c := client(t, srv)
	a := redisstore.New(c, redisstore.Options{}).OCSPCache()
	b := redisstore.New(client(t, srv), redisstore.Options{}).OCSPCache()
	ctx := context.Background()
	now := time.Now()
	k1, k2, k3 := [32]byte{1}, [32]byte{2}, [32]byte{3}

	if ok, err := b.Good(ctx, k1, now); ok || err != nil {
		t.Fatalf("empty cache: %v %v", ok, err)
	}
	if err := a.PutGood(ctx, k1, now.Add(time.Hour), now); err != nil {
		t.Fatal(err)
	}
	// Already due: not kept.
	if err := a.PutGood(ctx, k2, now, now); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		key  [32]byte
		at   time.Time
		want bool
	}{
		{"other instance, now", k1, now, true},
		{"just before nextUpdate", k1, now.Add(time.Hour - time.Nanosecond), true},
		{"at nextUpdate", k1, now.Add(time.Hour), false},
		{"past nextUpdate", k1, now.Add(2 * time.Hour), false},
		{"put when due", k2, now.Add(-time.Minute), false},
		{"never put", k3, now, false},
	} {
		if ok, err := b.Good(ctx, tc.key, tc.at); ok != tc.want || err != nil {
			t.Errorf("%s: %v %v, want %v", tc.name, ok, err, tc.want)
		}
	}
	// Redis expires the entry at nextUpdate by its own clock too.
	keys := c.Keys(ctx, redisstore.DefaultPrefix+"ocsp:*").Val()
	if len(keys) != 1 {
		t.Fatalf("keys %v", keys)
	}
	if ttl := c.PTTL(ctx, keys[0]).Val(); ttl <= 59*time.Minute || ttl > time.Hour {
		t.Fatalf("TTL %s, want up to one hour", ttl)
	}
	// b keeps what it read in memory until the same nextUpdate: with the
	// Redis entry gone it still answers, and never past nextUpdate.
	c.Del(ctx, keys[0])
	if ok, _ := b.Good(ctx, k1, now.Add(time.Minute)); !ok {
		t.Fatal("the instance's copy was not kept")
	}
	if ok, _ := b.Good(ctx, k1, now.Add(time.Hour)); ok {
		t.Fatal("the instance's copy outlived nextUpdate")
	}
	fresh := redisstore.New(c, redisstore.Options{}).OCSPCache()
	if ok, _ := fresh.Good(ctx, k1, now); ok {
		t.Fatal("a new instance found an entry Redis no longer has")
	}
}

func TestSessions(t *testing.T) {
	srv := redistest.Start(t)
	c := client(t, srv)
	a := redisstore.New(c, redisstore.Options{}).Sessions(time.Hour)
	b := redisstore.New(client(t, srv), redisstore.Options{}).Sessions(time.Hour)
	ctx := context.Background()
	const id = "cookie-value-0123456789"

	if r, err := b.Get(ctx, id); r != nil || err != nil {
		t.Fatalf("no session: %q %v", r, err)
	}
	if err := a.Put(ctx, id, []byte(`{"x":1}`)); err != nil {
		t.Fatal(err)
	}
	if r, err := b.Get(ctx, id); string(r) != `{"x":1}` || err != nil {
		t.Fatalf("other instance: %q %v", r, err)
	}
	for _, k := range c.Keys(ctx, "*").Val() {
		if strings.Contains(k, id) {
			t.Fatalf("key %q names the session ID", k)
		}
	}
	// Get renews the idle lifetime.
	rec := c.Keys(ctx, redisstore.DefaultPrefix+"session:*").Val()[0]
	c.PExpire(ctx, rec, time.Minute)
	b.Get(ctx, id)
	if ttl := c.PTTL(ctx, rec).Val(); ttl <= 59*time.Minute {
		t.Fatalf("TTL %s after Get, want renewed to one hour", ttl)
	}

	// The challenge: only the latest counts, and of 100 concurrent takers
	// on two instances one gets it.
	a.SetChallenge(ctx, id, "first", time.Minute)
	if ok, err := a.SetChallenge(ctx, id, "second", time.Minute); !ok || err != nil {
		t.Fatal(ok, err)
	}
	// No challenge without a session.
	if ok, err := a.SetChallenge(ctx, "no-such-session", "x", time.Minute); ok || err != nil {
		t.Fatal(ok, err)
	}
	if n := len(c.Keys(ctx, "*challenge:*").Val()); n != 1 {
		t.Fatalf("%d challenge keys, want 1", n)
	}
	var got atomic.Int32
	var wg sync.WaitGroup
	for i := range 100 {
		s := a
		if i%2 == 1 {
			s = b
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			rec, v, err := s.TakeChallenge(ctx, id)
			if err != nil || string(rec) != `{"x":1}` {
				t.Error(rec, err)
			}
			if v != "" {
				if v != "second" {
					t.Errorf("challenge %q", v)
				}
				got.Add(1)
			}
		}()
	}
	wg.Wait()
	if got.Load() != 1 {
		t.Fatalf("%d takers got the challenge", got.Load())
	}
	// TakeChallenge renews the session too.
	c.PExpire(ctx, rec, time.Minute)
	if r, v, err := b.TakeChallenge(ctx, id); r == nil || v != "" || err != nil {
		t.Fatalf("no challenge: %q %q %v", r, v, err)
	}
	if ttl := c.PTTL(ctx, rec).Val(); ttl <= 59*time.Minute {
		t.Fatalf("TTL %s after TakeChallenge, want renewed to one hour", ttl)
	}
	// No session: nothing, whatever challenge key exists.
	if r, v, err := b.TakeChallenge(ctx, "no-such-session"); r != nil || v != "" || err != nil {
		t.Fatalf("unknown session: %q %q %v", r, v, err)
	}

	// Rotate: the old session and its challenge go, the new one is there.
	a.SetChallenge(ctx, id, "third", time.Minute)
	const id2 = "new-cookie-value"
	if err := b.Rotate(ctx, id, id2, []byte(`{"y":2}`)); err != nil {
		t.Fatal(err)
	}
	if r, _ := a.Get(ctx, id); r != nil {
		t.Fatal("old session outlived Rotate")
	}
	if r, _ := a.Get(ctx, id2); string(r) != `{"y":2}` {
		t.Fatalf("new session %q", r)
	}
	if err := a.Put(ctx, id, []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	if _, v, _ := a.TakeChallenge(ctx, id); v != "" {
		t.Fatal("challenge outlived Rotate")
	}

	// Create: a session and its challenge at once.
	const id3 = "third-cookie"
	if err := a.Create(ctx, id3, []byte(`{"z":3}`), "fifth", time.Minute); err != nil {
		t.Fatal(err)
	}
	if r, v, err := b.TakeChallenge(ctx, id3); string(r) != `{"z":3}` || v != "fifth" || err != nil {
		t.Fatalf("created session: %q %q %v", r, v, err)
	}

	a.SetChallenge(ctx, id2, "fourth", time.Minute)
	if err := b.Delete(ctx, id2); err != nil {
		t.Fatal(err)
	}
	if r, _ := a.Get(ctx, id2); r != nil {
		t.Fatal("session outlived Delete")
	}
	a.Put(ctx, id2, []byte(`{}`))
	if _, v, _ := a.TakeChallenge(ctx, id2); v != "" {
		t.Fatal("challenge outlived Delete")
	}
}

// unavailable checks that err is the typed "Redis is down" error.
func unavailable(t *testing.T, what string, err error) {
	t.Helper()
	var ue *redisstore.UnavailableError
	if !errors.Is(err, verify.ErrStoreUnavailable) || !errors.As(err, &ue) || verify.ErrorCode(err) != "STORE_UNAVAILABLE" {
		t.Fatalf("%s: %v, want an UnavailableError", what, err)
	}
	if !strings.Contains(err.Error(), "Redis unavailable") {
		t.Fatalf("%s: message %q", what, err)
	}
}

// TestRedisDown: with Redis stopped every operation fails with the typed
// error (nonces fail closed); after a restart the same clients work again
// without being re-made.
func TestRedisDown(t *testing.T) {
	srv := redistest.Start(t)
	st := redisstore.New(client(t, srv), redisstore.Options{Timeout: 500 * time.Millisecond})
	nonces, cache, sess := st.Nonces(), st.OCSPCache(), st.Sessions(time.Hour)
	ctx := context.Background()
	before, err := nonces.Issue(ctx)
	if err != nil {
		t.Fatal(err)
	}

	srv.Stop()
	_, err = nonces.Issue(ctx)
	unavailable(t, "issue", err)
	unavailable(t, "take", nonces.Take(before))
	unavailable(t, "ping", st.Ping(ctx))
	_, err = cache.Good(ctx, [32]byte{1}, time.Now())
	unavailable(t, "ocsp read", err)
	unavailable(t, "ocsp write", cache.PutGood(ctx, [32]byte{1}, time.Now().Add(time.Hour), time.Now()))
	_, err = sess.Get(ctx, "s")
	unavailable(t, "session read", err)
	unavailable(t, "session write", sess.Put(ctx, "s", []byte("{}")))
	_, err = sess.SetChallenge(ctx, "s", "n", time.Minute)
	unavailable(t, "challenge", err)
	unavailable(t, "create", sess.Create(ctx, "s", []byte("{}"), "n", time.Minute))
	_, _, err = sess.TakeChallenge(ctx, "s")
	unavailable(t, "take challenge", err)
	unavailable(t, "rotate", sess.Rotate(ctx, "s", "t", []byte("{}")))

	srv.Restart()
	waitUp(t, st)
	// The restarted Redis is empty (no persistence): the nonce issued
	// before is unknown, which still refuses the login.
	if err := nonces.Take(before); !errors.Is(err, verify.ErrNonceUnknown) {
		t.Fatalf("nonce from before the restart: %v", err)
	}
	// The Lua script is re-sent to the new server (NOSCRIPT handled).
	n, err := nonces.Issue(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := nonces.Take(n); err != nil {
		t.Fatalf("after restart: %v", err)
	}
	if err := nonces.Take(n); !errors.Is(err, verify.ErrNonceReplayed) {
		t.Fatalf("replay after restart: %v", err)
	}
}

// waitUp waits for the client to reach Redis again; go-redis probes a
// failed server about once a second. The bound is generous and is not
// what the test measures.
func waitUp(t *testing.T, st *redisstore.Store) {
	t.Helper()
	for i := 0; ; i++ {
		err := st.Ping(context.Background())
		if err == nil {
			return
		}
		if i == 300 {
			t.Fatalf("Redis not reachable 30 s after restart: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestRedisHung: a Redis that accepts connections but does not answer
// (paused) makes operations fail after the store's timeout instead of
// hanging the login.
func TestRedisHung(t *testing.T) {
	srv := redistest.Start(t)
	st := redisstore.New(client(t, srv), redisstore.Options{Timeout: 200 * time.Millisecond})
	n, err := st.Nonces().Issue(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	srv.Pause()
	defer srv.Resume()
	err = st.Nonces().Take(n)
	unavailable(t, "take from a hung Redis", err)
	if !errors.Is(err, context.DeadlineExceeded) && !strings.Contains(err.Error(), "timeout") {
		t.Fatalf("want a timeout, got %v", err)
	}
	// A caller's shorter deadline is honoured too.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	unavailable(t, "take with the caller's deadline", st.Nonces().TakeContext(ctx, n))
	srv.Resume()
	waitUp(t, st)
	// The first take may or may not have run before the pause: either way
	// the nonce is spent or still single-use, never usable twice.
	first := st.Nonces().Take(n)
	if second := st.Nonces().Take(n); !errors.Is(second, verify.ErrNonceReplayed) {
		t.Fatalf("after resume: %v then %v", first, second)
	}
}

func TestNewClient(t *testing.T) {
	for _, tc := range []struct {
		url string
		ok  bool
		tls bool
	}{
		{"redis://127.0.0.1:6379/0", true, false},
		{"redis://user:secret@redis.internal:6380/2", true, false},
		{"rediss://redis.internal:6380", true, true},
		{"redis://127.0.0.1:6379/0?dial_timeout=3s", true, false},
		{"http://127.0.0.1:6379", false, false},
		{"redis://127.0.0.1:6379/notadb", false, false},
	} {
		c, err := redisstore.NewClient(tc.url, nil)
		if (err == nil) != tc.ok {
			t.Errorf("%s: %v", tc.url, err)
			continue
		}
		if c == nil {
			continue
		}
		o := c.Options()
		if (o.TLSConfig != nil) != tc.tls || !o.ContextTimeoutEnabled || o.ReadTimeout <= 0 || o.DialTimeout <= 0 {
			t.Errorf("%s: options %+v", tc.url, o)
		}
		if strings.Contains(tc.url, "dial_timeout=3s") && o.DialTimeout != 3*time.Second {
			t.Errorf("dial_timeout from the URL ignored: %s", o.DialTimeout)
		}
		c.Close()
	}
}

// TestTLSAndPassword: rediss:// with the test CA and the password works;
// without the CA (system roots), with a wrong password, or in clear text
// to the TLS port, every operation is refused with the typed error.
func TestTLSAndPassword(t *testing.T) {
	srv := redistest.StartWith(t, redistest.Options{TLS: true, Password: "s3cret-pw"})
	pem, err := os.ReadFile(srv.CAFile())
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	good, err := redisstore.NewClient(srv.URL(), pool)
	if err != nil {
		t.Fatal(err)
	}
	defer good.Close()
	st := redisstore.New(good, redisstore.Options{})
	n, err := st.Nonces().Issue(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Nonces().Take(n); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name string
		url  string
		ca   *x509.CertPool
	}{
		{"system roots", srv.URL(), nil},
		{"wrong password", strings.Replace(srv.URL(), "s3cret-pw", "guess", 1), pool},
		{"no password", strings.Replace(srv.URL(), ":s3cret-pw@", "", 1), pool},
		{"clear text", strings.Replace(srv.URL(), "rediss://", "redis://", 1), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := redisstore.NewClient(tc.url, tc.ca)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			unavailable(t, tc.name, redisstore.New(c, redisstore.Options{Timeout: 500 * time.Millisecond}).Nonces().Put(n+"x", time.Now().Add(time.Minute)))
		})
	}
	// A CA for a URL without TLS, or turning verification off, is refused
	// up front.
	if _, err := redisstore.NewClient("redis://127.0.0.1:6379/0", pool); err == nil {
		t.Fatal("CA accepted for redis://")
	}
	if _, err := redisstore.NewClient("rediss://127.0.0.1:6379/0?skip_verify=true", nil); err == nil {
		t.Fatal("skip_verify accepted")
	}
}

// aclRules are the rules docs/verify.md gives the service's ACL user: its
// own keys and the commands the store sends, nothing else.
const aclRules = "~eid-verify:* +get +set +del +getex +pexpire +evalsha +eval +ping"

// TestACLUser: every operation works as an ACL user with only the
// documented rules (the default user disabled), and that user cannot
// reach other keys.
func TestACLUser(t *testing.T) {
	srv := redistest.StartWith(t, redistest.Options{User: "eid-verify", Password: "acl-pw",
		Args: append([]string{"--user", "default", "off", "--user", "eid-verify", "on", ">acl-pw"}, strings.Fields(aclRules)...)})
	c := client(t, srv)
	st := redisstore.New(c, redisstore.Options{})
	ctx := context.Background()
	if err := st.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	n, err := st.Nonces().Issue(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Nonces().Take(n); err != nil {
		t.Fatal(err)
	}
	if err := st.Nonces().Take(n); !errors.Is(err, verify.ErrNonceReplayed) {
		t.Fatal(err)
	}
	oc := st.OCSPCache()
	now := time.Now()
	if err := oc.PutGood(ctx, [32]byte{9}, now.Add(time.Hour), now); err != nil {
		t.Fatal(err)
	}
	if ok, err := redisstore.New(c, redisstore.Options{}).OCSPCache().Good(ctx, [32]byte{9}, now); !ok || err != nil {
		t.Fatal(ok, err)
	}
	ss := st.Sessions(time.Hour)
	if err := ss.Create(ctx, "id", []byte(`{}`), "n", time.Minute); err != nil {
		t.Fatal(err)
	}
	if ok, err := ss.SetChallenge(ctx, "id", "n2", time.Minute); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if r, v, err := ss.TakeChallenge(ctx, "id"); r == nil || v != "n2" || err != nil {
		t.Fatal(r, v, err)
	}
	if r, err := ss.Get(ctx, "id"); r == nil || err != nil {
		t.Fatal(r, err)
	}
	if err := ss.Rotate(ctx, "id", "id2", []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	if err := ss.Delete(ctx, "id2"); err != nil {
		t.Fatal(err)
	}
	// Outside its prefix, or another command: refused.
	if err := c.Set(ctx, "other:key", "x", time.Minute).Err(); err == nil || !strings.Contains(err.Error(), "NOPERM") {
		t.Fatalf("SET outside the prefix: %v", err)
	}
	if err := c.FlushAll(ctx).Err(); err == nil {
		t.Fatal("FLUSHALL allowed")
	}
	// A Redis restart loses the script cache: EVAL (NOSCRIPT fallback)
	// must be allowed too.
	srv.Restart()
	for i := 0; st.Ping(ctx) != nil; i++ {
		if i == 300 {
			t.Fatal("Redis not back")
		}
		time.Sleep(100 * time.Millisecond)
	}
	n, _ = st.Nonces().Issue(ctx)
	if err := st.Nonces().Take(n); err != nil {
		t.Fatalf("take after a restart (script reloaded): %v", err)
	}
}
