package card_test

import (
	"bytes"
	"maps"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/eid-agent/eid-agent/card"
	"github.com/eid-agent/eid-agent/card/virtual"
)

type mapCache struct {
	mu sync.Mutex
	m  map[string][]byte
}

func (c *mapCache) Get(k string) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	b, ok := c.m[k]
	return b, ok
}

func (c *mapCache) Put(k string, b []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m[k] = bytes.Clone(b)
}

// TestReadFilesCached: a second read of the same card takes the photo and
// certificates from the cache, sends fewer commands and returns the same
// files; what the card does not confirm is read again.
func TestReadFilesCached(t *testing.T) {
	for _, p := range profiles(t) {
		t.Run(p.Name, func(t *testing.T) {
			cache := &mapCache{m: map[string][]byte{}}
			c, tr := newInProcess(p)
			want, err := c.ReadFiles(card.PartAll)
			if err != nil {
				t.Fatal(err)
			}
			plain := tr.sent

			c, tr = newInProcess(p)
			first, err := c.ReadFilesCached(card.PartAll, cache)
			if err != nil {
				t.Fatal(err)
			}
			cold := tr.sent
			c, tr = newInProcess(p)
			second, err := c.ReadFilesCached(card.PartAll, cache)
			if err != nil {
				t.Fatal(err)
			}
			warm := tr.sent
			// The chip challenge is fresh on every read; everything else
			// must be identical.
			for _, f := range []*card.Files{want, first, second} {
				f.Challenge, f.ChallengeSignature = nil, nil
			}
			if !reflect.DeepEqual(first, want) || !reflect.DeepEqual(second, want) {
				t.Fatal("cached read differs from a plain read")
			}
			if cold > plain+1 || warm >= plain {
				t.Errorf("commands: plain %d, cold cache %d, warm cache %d", plain, cold, warm)
			}
			t.Logf("commands: plain %d, warm cache %d (%.2fx)", plain, warm, float64(warm)/float64(plain))

			// A tampered cached photo is not believed.
			for k := range maps.Keys(cache.m) {
				if strings.HasPrefix(k, "photo:") {
					cache.m[k][10] ^= 1
				}
			}
			c, _ = newInProcess(p)
			third, err := c.ReadFilesCached(card.PartAll, cache)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(third.Photo, want.Photo) {
				t.Error("a tampered cached photo was used")
			}
		})
	}
}

// TestCachedCertificateRenewed: a certificate that changed on the card
// (renewal) is read again, not served from the cache.
func TestCachedCertificateRenewed(t *testing.T) {
	p, err := virtual.Preset("citizen-1.7")
	if err != nil {
		t.Fatal(err)
	}
	cache := &mapCache{m: map[string][]byte{}}
	c, _ := newInProcess(p)
	want, err := c.ReadFilesCached(card.PartAll, cache)
	if err != nil {
		t.Fatal(err)
	}
	// Make the cached copies stale: same length, different first block.
	for k, b := range cache.m {
		if strings.HasPrefix(k, "cert:") {
			b[20] ^= 0xFF
		}
	}
	c, _ = newInProcess(p)
	got, err := c.ReadFilesCached(card.PartAll, cache)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.AuthCert, want.AuthCert) || !bytes.Equal(got.RootCert, want.RootCert) {
		t.Error("a stale cached certificate was used")
	}
}
