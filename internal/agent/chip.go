package agent

import "sync"

// chipVerdict is the outcome of one applet 1.8 chip check.
type chipVerdict struct{ verdict, detail string }

// chipVerdicts remembers the chip check per reader and card insertion. An
// entry of an older insertion is simply replaced: the map holds at most
// one entry per reader.
type chipVerdicts struct {
	mu sync.Mutex
	m  map[string]chipEntry
}

type chipEntry struct {
	insertion uint64
	v         chipVerdict
}

func (c *chipVerdicts) get(reader string, insertion uint64) (chipVerdict, bool) {
	if insertion == 0 {
		return chipVerdict{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[reader]
	if !ok || e.insertion != insertion {
		return chipVerdict{}, false
	}
	return e.v, true
}

func (c *chipVerdicts) put(reader string, insertion uint64, v chipVerdict) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]chipEntry{}
	}
	c.m[reader] = chipEntry{insertion, v}
}
