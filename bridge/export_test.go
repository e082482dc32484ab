package bridge

import (
	"log/slog"
	"net/netip"
	"reflect"
	"time"
)

// Test hooks.

func SetPeerUID(c *Config, f func(local, remote netip.AddrPort) (int, error)) { c.peerUID = f }

var (
	ParseProcNetTCP = parseProcNetTCP
	ProcPeerUID     = procPeerUID
	CheckHost       = checkHost
	CheckListen     = checkListen
	ToError         = toError
	Catalog         = catalog
)

// StrictMembers checks data decoded into a value of v's type (nil: any).
func StrictMembers(data []byte, v any) error {
	if v == nil {
		return strictMembers(data, nil)
	}
	return strictMembers(data, reflect.TypeOf(v))
}

func (s *Server) Conns() int64 { return s.slots.count() }

func (s *Server) PageKey() string { return s.pageKey }

type Bucket = bucket

var NewBucket = newBucket

func (b *bucket) Allow(now time.Time) bool { return b.allow(now) }

// Handlers returns the request types the dispatcher knows.
func Handlers() map[string]bool {
	out := map[string]bool{}
	for k := range handlers {
		out[k] = true
	}
	return out
}

var ValidType = validType

// RefusalLog is the rate-limited refusal logger on a clock of the test's.
type RefusalLog = refusalLog

func NewRefusalLog(l *slog.Logger, now func() time.Time) *RefusalLog {
	r := newRefusalLog(l)
	r.now = now
	r.b = newBucket(5, 20, now())
	return r
}

func (r *RefusalLog) Log(msg string, args ...any) { r.log(msg, args...) }

var LogValue = logValue

var ParseProcListeners = parseProcListeners
