package bridge

import (
	"fmt"
	"sync"
)

// slots counts websocket connections: in all, per caller, and those of
// web origins, so that one origin cannot take every slot (it gets at most
// MaxConnectionsPerCaller) and web pages together cannot lock out the
// desktop applications (ReservedAppConnections stay theirs).
type slots struct {
	lim Limits

	mu      sync.Mutex
	total   int
	web     int
	byOwner map[string]int // by Caller.String()
}

// acquire takes a slot for c, or says why there is none.
func (s *slots) acquire(c Caller) (release func(), refusal string) {
	key := c.String()
	web := c.Origin != ""
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.total >= s.lim.MaxConnections:
		return nil, fmt.Sprintf("the agent has %d connections", s.total)
	case s.byOwner[key] >= s.lim.MaxConnectionsPerCaller:
		return nil, fmt.Sprintf("this caller has %d connections", s.byOwner[key])
	case web && s.web >= s.lim.MaxConnections-s.lim.ReservedAppConnections:
		return nil, "the remaining connections are kept for desktop applications"
	}
	if s.byOwner == nil {
		s.byOwner = map[string]int{}
	}
	s.total++
	s.byOwner[key]++
	if web {
		s.web++
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.total--
			if s.byOwner[key]--; s.byOwner[key] == 0 {
				delete(s.byOwner, key)
			}
			if web {
				s.web--
			}
		})
	}, ""
}

func (s *slots) count() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return int64(s.total)
}
