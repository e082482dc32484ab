// Package redisstore keeps the verification service's shared state in
// Redis, so that several stateless instances behind a load balancer act as
// one: single-use nonces (verify.NonceStore: a nonce issued by one
// instance is consumed exactly once by whichever instance receives the
// token), the OCSP answers (verify.OCSPCache: kept until their nextUpdate,
// never past it) and sessions with their pending challenge (Sessions).
//
// It lives apart from package verify so that verify keeps no Redis (nor
// any network store) dependency. Every operation has a timeout; a Redis
// that is down, slow, full or read-only gives an *UnavailableError, which
// matches verify.ErrStoreUnavailable: nonces fail closed (no login without
// proof of single use), the OCSP cache is only an optimisation (verify
// asks the responder instead).
//
// Keys are the Prefix followed by the kind and a SHA-256 of the secret
// they stand for (nonce, session ID), so reading Redis reveals no nonce
// and no live session cookie; each operation touches one key (or, for a
// session, one hash slot), as a Redis Cluster requires (not tested: the
// tests run one server).
package redisstore

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/eid-agent/eid-agent/internal/clock"
	"github.com/eid-agent/eid-agent/verify"
)

// Defaults for Options.
const (
	DefaultPrefix = "eid-verify:"
	// DefaultTimeout bounds each operation: a Redis on the same network
	// answers in well under a millisecond, so a second means it is gone.
	DefaultTimeout = time.Second
)

// Options of a Store.
type Options struct {
	// Prefix of every key; DefaultPrefix when empty. Services sharing a
	// Redis use different prefixes.
	Prefix string
	// Timeout of each operation; DefaultTimeout when zero.
	Timeout time.Duration
	// Now is the clock for nonce expiry; nil means internal/clock's Now
	// (time.Now outside fake-clock test builds), as verify's. Redis expires
	// keys by its own clock as well, after a grace period, so a skew
	// between the two clocks never extends a lifetime.
	Now func() time.Time
	// NonceLifetime is the lifetime of nonces made by Nonces.Issue; zero
	// means verify.DefaultNonceLifetime.
	NonceLifetime time.Duration
	// NonceGrace keeps a nonce this long past its expiry (and a used one
	// until then), so that a late or repeated answer is told "expired" or
	// "replayed" rather than "unknown"; zero means one NonceLifetime.
	NonceGrace time.Duration
}

// Store is the shared state in one Redis. It is safe for concurrent use.
type Store struct {
	c        redis.UniversalClient
	prefix   string
	timeout  time.Duration
	now      func() time.Time
	lifetime time.Duration
	grace    time.Duration
	local    localOCSP
}

// New returns a Store over c (NewClient makes one with suitable timeouts;
// a *redis.ClusterClient should work too, untested). The caller closes c.
func New(c redis.UniversalClient, o Options) *Store {
	s := &Store{c: c, prefix: o.Prefix, timeout: o.Timeout, now: o.Now, lifetime: o.NonceLifetime, grace: o.NonceGrace}
	if s.prefix == "" {
		s.prefix = DefaultPrefix
	}
	if s.timeout <= 0 {
		s.timeout = DefaultTimeout
	}
	if s.now == nil {
		s.now = clock.Now
	}
	if s.lifetime <= 0 {
		s.lifetime = verify.DefaultNonceLifetime
	}
	if s.grace <= 0 {
		s.grace = s.lifetime
	}
	return s
}

// NewClient returns a client for url (see ClientOptions).
func NewClient(url string, rootCAs *x509.CertPool) (*redis.Client, error) {
	o, err := ClientOptions(url, rootCAs)
	if err != nil {
		return nil, err
	}
	return redis.NewClient(o), nil
}

// ClientOptions parses a redis:// or rediss:// (TLS) URL, with user and
// password if the server wants them (redis://user:pass@host:6379/0), into
// options tuned for a login service: short dial and read timeouts (1 s)
// unless the URL sets them (?dial_timeout=, ?read_timeout=), the
// context's deadline honoured, one retry on a broken connection (the first
// command after a Redis restart finds its pooled connection dead), and no
// optional handshakes that older servers refuse. rootCAs, when not nil,
// are the CAs that may sign a rediss:// server's certificate instead of
// the system's (a private CA).
func ClientOptions(url string, rootCAs *x509.CertPool) (*redis.Options, error) {
	o, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("redisstore: %w", err)
	}
	if rootCAs != nil {
		if o.TLSConfig == nil {
			return nil, errors.New("redisstore: CA certificates given for a URL without TLS (want rediss://)")
		}
		o.TLSConfig.RootCAs = rootCAs
	}
	if o.TLSConfig != nil && o.TLSConfig.InsecureSkipVerify {
		// Redis holds the nonces: a man in the middle could re-arm them.
		return nil, errors.New("redisstore: skip_verify is refused: Redis's certificate must be verified (give its CA instead)")
	}
	if o.DialTimeout == 0 {
		o.DialTimeout = time.Second
	}
	if o.ReadTimeout == 0 {
		o.ReadTimeout = time.Second
	}
	if o.MaxRetries == 0 {
		o.MaxRetries = 1
	}
	// One dial attempt per request: while Redis is down the client's own
	// breaker answers at once and probes in the background, so requests
	// fail fast instead of queueing behind dial retries.
	o.DialerRetries = 1
	o.ContextTimeoutEnabled = true
	o.DisableIdentity = true // CLIENT SETINFO: Redis 7.2+, not needed
	o.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	return o, nil
}

// UnavailableError is a Redis operation that failed: Redis down, too slow,
// out of memory, read-only, refusing authentication. It matches
// verify.ErrStoreUnavailable (errors.Is) and unwraps to the client's error.
type UnavailableError struct {
	Op  string // what was being done, e.g. "take nonce"
	Err error
}

func (e *UnavailableError) Error() string {
	return "redisstore: " + e.Op + ": Redis unavailable: " + e.Err.Error()
}

func (e *UnavailableError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, verify.ErrStoreUnavailable) true.
func (e *UnavailableError) Is(target error) bool { return target == verify.ErrStoreUnavailable }

func unavailable(op string, err error) error { return &UnavailableError{Op: op, Err: err} }

func (s *Store) ctx(parent context.Context) (context.Context, context.CancelFunc) {
	if parent == nil {
		parent = context.Background()
	}
	return context.WithTimeout(parent, s.timeout)
}

// Ping checks that Redis answers, for health endpoints.
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	if err := s.c.Ping(ctx).Err(); err != nil {
		return unavailable("ping", err)
	}
	return nil
}

// digest names a secret in a key without revealing it.
func digest(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

// Nonces returns the store's verify.NonceStore.
func (s *Store) Nonces() *Nonces { return &Nonces{s} }

// OCSPCache returns the store's verify.OCSPCache.
func (s *Store) OCSPCache() *OCSPCache { return &OCSPCache{s} }

// Sessions returns a session store whose sessions live ttl after their
// last use.
func (s *Store) Sessions(ttl time.Duration) *Sessions { return &Sessions{s: s, ttl: ttl} }

// Nonces is a verify.NonceStore (and verify.ContextNonceStore) in Redis.
//
// A nonce's key holds its expiry until it is taken, then "used" until the
// grace period ends; Take reads and marks it in one Lua script, which
// Redis runs atomically, so exactly one Take succeeds whichever instances
// race for it.
type Nonces struct{ s *Store }

var (
	_ verify.ContextNonceStore = (*Nonces)(nil)
	_ verify.OCSPCache         = (*OCSPCache)(nil)
)

const usedMark = "used"

// takeScript: nil for a key never put (or gone after its grace), "used"
// for a replay, otherwise the stored expiry, the key being marked used in
// the same step with its TTL kept.
var takeScript = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if not v then return false end
if v == ARGV[1] then return v end
redis.call('SET', KEYS[1], ARGV[1], 'KEEPTTL')
return v
`)

func (n *Nonces) key(nonce string) string { return n.s.prefix + "nonce:" + digest(nonce) }

// Issue makes a new nonce (verify.NewNonce) valid for NonceLifetime.
func (n *Nonces) Issue(ctx context.Context) (string, error) {
	nonce, err := verify.NewNonce()
	if err != nil {
		return "", err
	}
	if err := n.PutContext(ctx, nonce, n.s.now().Add(n.s.lifetime)); err != nil {
		return "", err
	}
	return nonce, nil
}

// Put implements verify.NonceStore.
func (n *Nonces) Put(nonce string, expiry time.Time) error {
	return n.PutContext(context.Background(), nonce, expiry)
}

// PutContext records nonce until expiry. Putting a nonce already known
// (issued, used or in its grace period) is an error, as in
// verify.MemoryNonceStore: a reused nonce would allow replays.
func (n *Nonces) PutContext(ctx context.Context, nonce string, expiry time.Time) error {
	ttl := max(expiry.Sub(n.s.now()), 0) + n.s.grace
	ctx, cancel := n.s.ctx(ctx)
	defer cancel()
	ok, err := n.s.c.SetNX(ctx, n.key(nonce), strconv.FormatInt(expiry.UnixNano(), 10), max(ttl, time.Millisecond)).Result()
	if err != nil {
		return unavailable("put nonce", err)
	}
	if !ok {
		return errors.New("redisstore: nonce already issued")
	}
	return nil
}

// Take implements verify.NonceStore.
func (n *Nonces) Take(nonce string) error { return n.TakeContext(context.Background(), nonce) }

// TakeContext implements verify.ContextNonceStore: nil once, then
// verify.ErrNonceReplayed; verify.ErrNonceUnknown for a nonce never put
// (or past its grace period), verify.ErrNonceExpired (and burnt) past its
// expiry; an *UnavailableError when Redis does not answer, in which case
// the nonce must be taken as spent (the script may have run).
func (n *Nonces) TakeContext(ctx context.Context, nonce string) error {
	now := n.s.now()
	ctx, cancel := n.s.ctx(ctx)
	defer cancel()
	v, err := takeScript.Run(ctx, n.s.c, []string{n.key(nonce)}, usedMark).Text()
	switch {
	case errors.Is(err, redis.Nil):
		return verify.ErrNonceUnknown
	case err != nil:
		return unavailable("take nonce", err)
	case v == usedMark:
		return verify.ErrNonceReplayed
	}
	exp, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		// Not written by this package: refuse rather than guess.
		return fmt.Errorf("%w: stored value is not an expiry", verify.ErrNonceUnknown)
	}
	if !now.Before(time.Unix(0, exp)) {
		return verify.ErrNonceExpired
	}
	return nil
}

// OCSPCache is a verify.OCSPCache in Redis: a good answer for a
// certificate is kept as its nextUpdate, under a key that Redis expires at
// nextUpdate (by Redis's clock), and is reported good only while the
// caller's clock is before nextUpdate (by the caller's clock): never past
// it, whichever clock is ahead.
//
// Answers this instance has seen (fetched, or read from Redis) are also
// kept in its memory until the same nextUpdate, so a busy instance does
// not ask Redis at every login about the same certificates: a good answer
// is the responder's statement until nextUpdate, wherever it is kept.
// Redis still spares the responder one question per instance.
//
// What is stored is the verdict, not the signed response: whoever can
// write to this Redis can mark a certificate good (as they could re-arm a
// used nonce), so Redis is part of the service's trust boundary
// (docs/verify.md, Deployment).
type OCSPCache struct{ s *Store }

func (c *OCSPCache) key(k [32]byte) string { return c.s.prefix + "ocsp:" + hex.EncodeToString(k[:]) }

// Good implements verify.OCSPCache.
func (c *OCSPCache) Good(ctx context.Context, key [32]byte, now time.Time) (bool, error) {
	if c.s.local.good(key, now) {
		return true, nil
	}
	ctx, cancel := c.s.ctx(ctx)
	defer cancel()
	v, err := c.s.c.Get(ctx, c.key(key)).Result()
	if errors.Is(err, redis.Nil) {
		return false, nil
	}
	if err != nil {
		return false, unavailable("read OCSP cache", err)
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return false, nil // not ours: a miss
	}
	until := time.Unix(0, n)
	if !now.Before(until) {
		return false, nil
	}
	c.s.local.put(key, until, now)
	return true, nil
}

// PutGood implements verify.OCSPCache.
func (c *OCSPCache) PutGood(ctx context.Context, key [32]byte, nextUpdate, now time.Time) error {
	ttl := nextUpdate.Sub(now)
	if ttl < time.Millisecond {
		return nil // already due: not worth keeping
	}
	ctx, cancel := c.s.ctx(ctx)
	defer cancel()
	c.s.local.put(key, nextUpdate, now)
	if err := c.s.c.Set(ctx, c.key(key), strconv.FormatInt(nextUpdate.UnixNano(), 10), ttl).Err(); err != nil {
		return unavailable("write OCSP cache", err)
	}
	return nil
}

// maxLocalOCSP bounds the in-memory copy (as verify's own cache is).
const maxLocalOCSP = 10000

// localOCSP is the instance's copy of good answers: key -> nextUpdate.
type localOCSP struct {
	mu sync.Mutex
	m  map[[32]byte]time.Time
}

func (l *localOCSP) good(key [32]byte, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	until, ok := l.m[key]
	return ok && now.Before(until)
}

func (l *localOCSP) put(key [32]byte, until, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.m == nil {
		l.m = map[[32]byte]time.Time{}
	}
	if len(l.m) >= maxLocalOCSP {
		for k, u := range l.m {
			if !now.Before(u) {
				delete(l.m, k)
			}
		}
		if len(l.m) >= maxLocalOCSP {
			return
		}
	}
	l.m[key] = until
}

// Sessions keeps opaque session records and each session's pending login
// challenge, so that any instance can serve any request of a session.
// Records live TTL after their last Get or Put. IDs are the cookie values;
// keys hold their SHA-256 only.
type Sessions struct {
	s   *Store
	ttl time.Duration
}

// keys of a session: its record and its challenge share a hash slot
// ({...}), so Delete is one command on a cluster too.
func (ss *Sessions) keys(id string) (record, challenge string) {
	h := "{" + digest(id) + "}"
	return ss.s.prefix + "session:" + h, ss.s.prefix + "challenge:" + h
}

// Get returns the session's record and renews its lifetime; nil, nil when
// there is no such session (or it expired).
func (ss *Sessions) Get(ctx context.Context, id string) ([]byte, error) {
	rec, _ := ss.keys(id)
	ctx, cancel := ss.s.ctx(ctx)
	defer cancel()
	b, err := ss.s.c.GetEx(ctx, rec, ss.ttl).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, unavailable("read session", err)
	}
	return b, nil
}

// Put writes the session's record (creating the session) for TTL.
func (ss *Sessions) Put(ctx context.Context, id string, record []byte) error {
	rec, _ := ss.keys(id)
	ctx, cancel := ss.s.ctx(ctx)
	defer cancel()
	if err := ss.s.c.Set(ctx, rec, record, ss.ttl).Err(); err != nil {
		return unavailable("write session", err)
	}
	return nil
}

// Delete forgets the session and its pending challenge.
func (ss *Sessions) Delete(ctx context.Context, id string) error {
	rec, ch := ss.keys(id)
	ctx, cancel := ss.s.ctx(ctx)
	defer cancel()
	if err := ss.s.c.Del(ctx, rec, ch).Err(); err != nil {
		return unavailable("delete session", err)
	}
	return nil
}

// challengeScript renews the session and sets its challenge; 0 when
// there is no session.
var challengeScript = redis.NewScript(`
if redis.call('PEXPIRE', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
return 1
`)

// SetChallenge makes nonce the pending challenge of a live session for
// ttl, replacing an earlier one (only the latest challenge counts), and
// renews the session; false when there is no such session. One round trip.
func (ss *Sessions) SetChallenge(ctx context.Context, id, nonce string, ttl time.Duration) (bool, error) {
	rec, ch := ss.keys(id)
	ctx, cancel := ss.s.ctx(ctx)
	defer cancel()
	n, err := challengeScript.Run(ctx, ss.s.c, []string{rec, ch}, ss.ttl.Milliseconds(), nonce, max(ttl, time.Millisecond).Milliseconds()).Int()
	if err != nil {
		return false, unavailable("set challenge", err)
	}
	return n == 1, nil
}

// Create starts a session with its record and a pending challenge valid
// for ttl, in one round trip.
func (ss *Sessions) Create(ctx context.Context, id string, record []byte, nonce string, ttl time.Duration) error {
	rec, ch := ss.keys(id)
	ctx, cancel := ss.s.ctx(ctx)
	defer cancel()
	_, err := ss.s.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, rec, record, ss.ttl)
		p.Set(ctx, ch, nonce, max(ttl, time.Millisecond))
		return nil
	})
	if err != nil {
		return unavailable("create session", err)
	}
	return nil
}

// claimScript: the session's record (its lifetime renewed) and its
// pending challenge, which it deletes; nil when there is no session.
var claimScript = redis.NewScript(`
local rec = redis.call('GET', KEYS[1])
if not rec then return false end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
local ch = redis.call('GET', KEYS[2])
if ch then redis.call('DEL', KEYS[2]) end
return {rec, ch or ''}
`)

// TakeChallenge returns the session's record (nil when there is no live
// session) and its pending challenge ("" when none), forgetting the
// challenge and renewing the session in the same step: of concurrent
// logins of one session, one gets the challenge. One round trip.
func (ss *Sessions) TakeChallenge(ctx context.Context, id string) ([]byte, string, error) {
	rec, ch := ss.keys(id)
	ctx, cancel := ss.s.ctx(ctx)
	defer cancel()
	v, err := claimScript.Run(ctx, ss.s.c, []string{rec, ch}, ss.ttl.Milliseconds()).Slice()
	if errors.Is(err, redis.Nil) {
		return nil, "", nil
	}
	if err != nil {
		return nil, "", unavailable("take challenge", err)
	}
	if len(v) != 2 {
		return nil, "", unavailable("take challenge", fmt.Errorf("unexpected reply %v", v))
	}
	r, _ := v[0].(string)
	c, _ := v[1].(string)
	return []byte(r), c, nil
}

// Rotate replaces session old by a new one with the given ID and record
// (a new session ID at login: an ID planted before login is then worth
// nothing), in one round trip.
func (ss *Sessions) Rotate(ctx context.Context, old, id string, record []byte) error {
	oldRec, oldCh := ss.keys(old)
	rec, _ := ss.keys(id)
	ctx, cancel := ss.s.ctx(ctx)
	defer cancel()
	// A pipeline, not a transaction: the two sessions may live in
	// different cluster slots. Should the write fail after the delete,
	// the user logs in again.
	_, err := ss.s.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.Del(ctx, oldRec, oldCh)
		p.Set(ctx, rec, record, ss.ttl)
		return nil
	})
	if err != nil {
		return unavailable("rotate session", err)
	}
	return nil
}

// SetLogger sends go-redis's own messages (failed dials while Redis is
// down) to l at warning level instead of the standard logger. It is
// process-wide, as go-redis's logger is.
func SetLogger(l *slog.Logger) { redis.SetLogger(slogAdapter{l}) }

type slogAdapter struct{ l *slog.Logger }

func (a slogAdapter) Printf(ctx context.Context, format string, v ...interface{}) {
	a.l.WarnContext(ctx, fmt.Sprintf(format, v...), "component", "go-redis")
}
