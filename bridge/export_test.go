package bridge

import (
	"net/netip"
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

func (s *Server) Conns() int64 { return s.conns.Load() }

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
