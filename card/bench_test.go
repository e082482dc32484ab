package card

import (
	"context"
	"testing"
	"time"

	"github.com/eid-agent/eid-agent/card/eidfile"
	"github.com/eid-agent/eid-agent/internal/lab"
	"github.com/eid-agent/eid-agent/internal/virtual"
	"github.com/eid-agent/eid-agent/internal/vpcd"
)

// BenchmarkReadPCSC reads a whole card of each generation through pcscd and
// vpcd, two ways in the same run:
//
//   - agent: what Read does (256-byte blocks, certificates sized by their
//     DER header);
//   - baseline: every file read to its end in 252-byte blocks, as eid-mw's
//     PKCS#11 module does (ref §2.4), certificate padding included.
//
// The virtual card charges the wire time of a real one (ref §10, at a 4 MHz
// reader clock: 0.28 ms per byte for the pre-1.8 ATR's TA1=13, 0.05 ms for
// 1.8's TA1=96), so bytes not read show as time saved.
//
// Besides time it reports APDUs and bytes per read and the ratio of APDUs
// to the minimum for the same useful data: 1 GET CARD DATA, and per file
// 1 SELECT + ceil(size/256) READ BINARY.
func BenchmarkReadPCSC(b *testing.B) {
	slot := lab.Slots(b)[0]
	ctx, err := NewContext()
	if err != nil {
		b.Fatal(err)
	}
	defer ctx.Release()
	for _, name := range []string{"citizen-1.1", "citizen-1.7", "citizen-1.7-ec", "citizen-1.8"} {
		p, err := virtual.Preset(name)
		if err != nil {
			b.Fatal(err)
		}
		perByte := 280 * time.Microsecond
		if p.Applet == "1.8" {
			perByte = 50 * time.Microsecond
		}
		in, err := vpcd.Insert(context.Background(), slot.Addr, virtual.New(p, virtual.WithDelay(perByte)))
		if err != nil {
			b.Fatal(err)
		}
		benchWait(b, ctx, slot.Reader, p.Applet)
		c, err := ctx.Connect(slot.Reader)
		if err != nil {
			b.Fatal(err)
		}
		// cached: a returning card, its photo and certificates in the
		// agent's cache (warmed before timing; FileCache).
		cache := &benchCache{m: map[string][]byte{}}
		if _, err := c.ReadFilesCached(PartAll, cache); err != nil {
			b.Fatal(err)
		}
		for _, strategy := range []string{"agent", "baseline", "cached"} {
			b.Run(name+"/"+strategy, func(b *testing.B) {
				var files *eidfile.Files
				start := c.Stats()
				for b.Loop() {
					switch strategy {
					case "agent":
						files, err = c.ReadFiles(PartAll)
					case "cached":
						files, err = c.ReadFilesCached(PartAll, cache)
					default:
						files, err = readBaseline(c)
					}
					if err != nil {
						b.Fatal(err)
					}
				}
				st := c.Stats()
				n := float64(b.N)
				apdus := float64(st.APDUs-start.APDUs) / n
				b.ReportMetric(apdus, "APDUs/op")
				b.ReportMetric(float64(st.BytesSent+st.BytesReceived-start.BytesSent-start.BytesReceived)/n, "wire-bytes/op")
				min := minAPDUs(files)
				b.ReportMetric(float64(min), "min-APDUs/op")
				b.ReportMetric(apdus/float64(min), "APDU-ratio")
			})
		}
		c.Close()
		in.Remove()
		benchWait(b, ctx, slot.Reader, "")
	}
}

// benchWait polls until the reader holds a card of the applet version
// (empty: no card).
func benchWait(b *testing.B, ctx *Context, reader, applet string) {
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		rs, err := ctx.Readers()
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range rs {
			if r.Name == reader && r.AppletVersion == applet && (applet != "" || r.Kind == KindNone) {
				return
			}
		}
	}
	b.Fatalf("reader %s: applet %q not seen", reader, applet)
}

// readBaseline reads the same files as ReadFiles without sizing the
// certificates: to the end of their zero padding, 252 bytes at a time.
func readBaseline(c *Card) (*eidfile.Files, error) {
	old := c.ReadBlock
	c.ReadBlock = 252
	defer func() { c.ReadBlock = old }()
	f := &eidfile.Files{}
	err := c.withTransaction(func() error {
		var err error
		if f.CardData, err = c.ReadCardData(); err != nil {
			return err
		}
		for _, it := range []struct {
			dst  *[]byte
			path []byte
		}{
			{&f.Identity, PathIdentity}, {&f.IdentitySignature, PathIdentitySignature}, {&f.RRNCert, PathRRNCert},
			{&f.Address, PathAddress}, {&f.AddressSignature, PathAddressSignature}, {&f.Photo, PathPhoto},
			{&f.BasicKey, PathBasicKey}, {&f.AuthCert, PathAuthCert}, {&f.SignCert, PathSignCert},
			{&f.CACert, PathCACert}, {&f.RootCert, PathRootCert},
		} {
			b, err := c.readFile(it.path, nil)
			if err != nil && !isNotFound(err) {
				return err
			}
			if d := derSize(b); d > 0 && d <= len(b) && it.path[3] == 0x00 {
				b = b[:d] // same useful data as the agent strategy
			}
			*it.dst = b
		}
		return nil
	})
	return f, err
}

// minAPDUs is the fewest commands that can fetch the useful bytes of f.
func minAPDUs(f *eidfile.Files) int {
	n := 1 // GET CARD DATA
	for _, b := range [][]byte{f.Identity, f.IdentitySignature, f.Address, f.AddressSignature, f.Photo, f.BasicKey,
		f.AuthCert, f.SignCert, f.CACert, f.RootCert, f.RRNCert} {
		if b == nil {
			continue
		}
		n += 1 + (len(b)+255)/256
	}
	return n
}

type benchCache struct{ m map[string][]byte }

func (c *benchCache) Get(k string) ([]byte, bool) { b, ok := c.m[k]; return b, ok }
func (c *benchCache) Put(k string, b []byte)      { c.m[k] = b }
