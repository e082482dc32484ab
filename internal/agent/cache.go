package agent

import (
	"container/list"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"sync"

	"github.com/eid-agent/eid-agent/card"
	"github.com/eid-agent/eid-agent/internal/atomicfile"
)

// Cache is the agent's card.FileCache: the photos and certificates of the
// most recent cards in memory (least recently used out first) and, when
// Dir is set, on disk across restarts. The card layer checks every entry
// against the card before using it, so a damaged or stale entry costs a
// read, never a wrong answer.
//
// On disk an entry's name is a hash of its key (no card number or serial
// in file names) and the file is readable by the user only. Photos are
// personal data: the disk cache is off unless configured (cache.disk).
type Cache struct {
	Max int    // entries kept in memory (default 64: 16 cards' photo and certificates)
	Dir string // "" keeps nothing on disk

	mu    sync.Mutex
	order *list.List // of *cacheEntry, most recent first
	byKey map[string]*list.Element
}

type cacheEntry struct {
	key  string
	data []byte
}

var _ card.FileCache = (*Cache)(nil)

func (c *Cache) init() {
	if c.byKey == nil {
		c.byKey = map[string]*list.Element{}
		c.order = list.New()
	}
}

// Get implements card.FileCache.
func (c *Cache) Get(key string) ([]byte, bool) {
	c.mu.Lock()
	c.init()
	if e, ok := c.byKey[key]; ok {
		c.order.MoveToFront(e)
		b := e.Value.(*cacheEntry).data
		c.mu.Unlock()
		return b, true
	}
	c.mu.Unlock()
	if c.Dir == "" {
		return nil, false
	}
	b, err := os.ReadFile(c.path(key))
	if err != nil {
		return nil, false
	}
	c.putMemory(key, b)
	return b, true
}

// Put implements card.FileCache.
func (c *Cache) Put(key string, data []byte) {
	data = append([]byte(nil), data...)
	c.putMemory(key, data)
	if c.Dir == "" {
		return
	}
	if os.MkdirAll(c.Dir, 0o700) == nil {
		// Best effort: a cache that cannot be written costs a read later.
		_ = atomicfile.Write(c.path(key), data, 0o600)
	}
}

func (c *Cache) putMemory(key string, data []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.init()
	if e, ok := c.byKey[key]; ok {
		e.Value.(*cacheEntry).data = data
		c.order.MoveToFront(e)
		return
	}
	c.byKey[key] = c.order.PushFront(&cacheEntry{key, data})
	max := c.Max
	if max <= 0 {
		max = 64
	}
	for c.order.Len() > max {
		last := c.order.Back()
		c.order.Remove(last)
		delete(c.byKey, last.Value.(*cacheEntry).key)
	}
}

// Len is the number of entries in memory.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.init()
	return c.order.Len()
}

func (c *Cache) path(key string) string {
	h := sha256.Sum256([]byte(key))
	return filepath.Join(c.Dir, hex.EncodeToString(h[:16]))
}
