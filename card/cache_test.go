package card_test

import (
	"bytes"
	"fmt"
	"maps"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/eid-agent/eid-agent/card"
	"github.com/eid-agent/eid-agent/card/eidfile"
	"github.com/eid-agent/eid-agent/internal/virtual"
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
			for _, f := range []*eidfile.Files{want, first, second} {
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
	// Make the cached copies stale: same length, another signature (a
	// renewed certificate, or another PKI's card with the same chip
	// serial: its first block may well be identical).
	for k, b := range cache.m {
		if strings.HasPrefix(k, "cert:") {
			b[len(b)-5] ^= 0xFF
		}
	}
	c, _ = newInProcess(p)
	got, err := c.ReadFilesCached(card.PartAll, cache)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.AuthCert, want.AuthCert) || !bytes.Equal(got.RootCert, want.RootCert) || !bytes.Equal(got.RRNCert, want.RRNCert) {
		t.Error("a stale cached certificate was used")
	}
	// Two cards of different PKIs with the same chip serial: the second
	// must not be given the first one's certificates.
	other, err := virtual.Preset("citizen-1.7-ec")
	if err != nil {
		t.Fatal(err)
	}
	shared := &mapCache{m: map[string][]byte{}}
	c, _ = newInProcess(p)
	if _, err := c.ReadFilesCached(card.PartAll, shared); err != nil {
		t.Fatal(err)
	}
	for k, v := range shared.m { // pretend the serials are equal
		if strings.HasPrefix(k, "cert:") {
			shared.m["cert:"+hexSerial(other)+k[len("cert:")+32:]] = v
		}
	}
	c, _ = newInProcess(other)
	plainOther, _ := newInProcess(other)
	wantOther, err := plainOther.ReadFiles(card.PartAll)
	if err != nil {
		t.Fatal(err)
	}
	gotOther, err := c.ReadFilesCached(card.PartAll, shared)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(gotOther.RRNCert, wantOther.RRNCert) || !bytes.Equal(gotOther.AuthCert, wantOther.AuthCert) {
		t.Error("another card's cached certificate was used")
	}
}

// hexSerial is the chip serial part of a certificate cache key.
func hexSerial(p *virtual.Profile) string {
	c, _ := newInProcess(p)
	cd, err := c.ReadCardData()
	if err != nil {
		panic(err)
	}
	return fmt.Sprintf("%X", cd[:16])
}
