package agent

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCacheLRU(t *testing.T) {
	c := &Cache{Max: 3}
	for i := range 5 {
		c.Put(fmt.Sprint("k", i), []byte{byte(i)})
	}
	if c.Len() != 3 {
		t.Fatalf("len %d", c.Len())
	}
	if _, ok := c.Get("k0"); ok {
		t.Error("the oldest entry survived")
	}
	c.Get("k2") // k2 is now the most recent
	c.Put("k5", []byte{5})
	if _, ok := c.Get("k3"); ok {
		t.Error("k3, least recently used, survived")
	}
	if b, ok := c.Get("k2"); !ok || !bytes.Equal(b, []byte{2}) {
		t.Error("k2 lost")
	}
}

func TestCacheDisk(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cache")
	c := &Cache{Dir: dir}
	c.Put("photo:abcd", []byte("jpeg"))
	c2 := &Cache{Dir: dir} // a restarted agent
	if b, ok := c2.Get("photo:abcd"); !ok || string(b) != "jpeg" {
		t.Fatalf("disk entry: %q %v", b, ok)
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.Contains(e.Name(), "photo") || strings.Contains(e.Name(), "abcd") {
			t.Errorf("file name %q reveals the key", e.Name())
		}
		st, _ := os.Stat(filepath.Join(dir, e.Name()))
		if st.Mode().Perm() != 0o600 {
			t.Errorf("mode %v", st.Mode().Perm())
		}
	}
	if st, _ := os.Stat(dir); st.Mode().Perm() != 0o700 {
		t.Errorf("dir mode %v", st.Mode().Perm())
	}
}
