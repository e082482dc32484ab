package card_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/eid-agent/eid-agent/card"
	"github.com/eid-agent/eid-agent/card/eidfile"
	"github.com/eid-agent/eid-agent/internal/lab"
	"github.com/eid-agent/eid-agent/internal/virtual"
	"github.com/eid-agent/eid-agent/internal/vpcd"
)

// These tests run the whole real path: card -> ebfe/scard -> libpcsclite ->
// pcscd -> vpcd driver -> TCP -> the virtual card. They need the lab
// (scripts/pcsc-lab); in CI they fail without it.

// insert puts a virtual card in slot and waits until pcscd sees it.
func insert(t testing.TB, ctx *card.Context, slot lab.Slot, vc *virtual.Card) *vpcd.Insertion {
	t.Helper()
	in, err := vpcd.Insert(context.Background(), slot.Addr, vc)
	if err != nil {
		t.Fatal(err)
	}
	// Wait for the reader to be empty again on the way out: the next test's
	// card would otherwise be "seen" while pcscd still shows this one.
	t.Cleanup(func() {
		in.Remove()
		waitKind(t, ctx, slot.Reader, card.KindNone)
	})
	waitKind(t, ctx, slot.Reader, card.KindBELPIC)
	return in
}

// waitKind polls the reader until it holds kind. pcscd polls presence every
// 400 ms, so a change shows within about half a second.
func waitKind(t testing.TB, ctx *card.Context, reader string, kind card.Kind) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		rs, err := ctx.Readers()
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			if r.Name == reader && r.Kind == kind {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("reader %q: no %s card after 5 s (readers: %+v)", reader, kind, rs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func newContext(t testing.TB) *card.Context {
	t.Helper()
	ctx, err := card.NewContext()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ctx.Release() })
	return ctx
}

// profiles are every card the tests read: the public dumps and a generated
// card of each generation and document type.
func profiles(t testing.TB) []*virtual.Profile {
	t.Helper()
	dir := filepath.Join(lab.SharedTestdata(t), "cards")
	var out []*virtual.Profile
	for _, d := range []string{"alice-v11-rsa", "specimen-v17-ec"} {
		p, err := virtual.LoadDump(filepath.Join(dir, d))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	for _, name := range virtual.PresetNames() {
		p, err := virtual.Preset(name)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}

// trustFor trusts the root that issued p's RRN certificate.
func trustFor(p *virtual.Profile) *eidfile.TrustStore {
	ts := eidfile.DefaultTrustStore().Clone()
	if p.PKI != nil && p.PKI.Root != nil {
		ts.Add(p.PKI.Root)
	}
	return ts
}

// decodeProfile is what the reader must find: the profile's files decoded
// and verified directly, without any APDU.
func expectedFiles(p *virtual.Profile) *eidfile.Files {
	f := func(path string) []byte {
		b := p.File(path)
		if b == nil {
			return nil
		}
		return b
	}
	return &eidfile.Files{
		ATR: p.ATR, CardData: p.CardData,
		Identity: f("3F00DF014031"), IdentitySignature: f("3F00DF014032"),
		Address: f("3F00DF014033"), AddressSignature: f("3F00DF014034"),
		Photo: f("3F00DF014035"), BasicKey: f("3F00DF014040"),
		AuthCert: f("3F00DF005038"), SignCert: f("3F00DF005039"), CACert: f("3F00DF00503A"),
		RootCert: f("3F00DF00503B"), RRNCert: f("3F00DF00503C"),
	}
}

func TestReadThroughPCSC(t *testing.T) {
	slot := lab.Slots(t)[0]
	ctx := newContext(t)
	for _, p := range profiles(t) {
		for _, short := range []bool{false, true} {
			name := p.Name
			var opts []virtual.Option
			if short {
				// Some stacks hide 6C xx and hand over the short block with
				// 90 00 (ref §2.4): the reader must take both.
				name += "/short-reads"
				opts = append(opts, virtual.WithShortReads())
			}
			t.Run(name, func(t *testing.T) {
				insert(t, ctx, slot, virtual.New(p, opts...))
				c, err := ctx.Connect(slot.Reader)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				files, err := c.ReadFiles(card.PartAll)
				if err != nil {
					t.Fatal(err)
				}
				want := expectedFiles(p)
				checkFiles(t, files, want)

				r, err := c.Read(card.ReadOptions{Trust: trustFor(p)})
				if err != nil {
					t.Fatal(err)
				}
				direct, err := eidfile.Decode(want)
				if err != nil {
					t.Fatal(err)
				}
				if r.Identity != direct.Identity || *r.Address != *direct.Address {
					t.Errorf("identity/address differ from the profile's files:\n%+v\n%+v", r.Identity, direct.Identity)
				}
				if r.Card.Reader != slot.Reader || r.Card.AppletVersion != wantApplet(p) {
					t.Errorf("card info: reader %q applet %q", r.Card.Reader, r.Card.AppletVersion)
				}
				in := r.Integrity
				if in.Identity != eidfile.Valid || in.Address != eidfile.Valid || in.Photo != eidfile.Valid {
					t.Errorf("integrity: %+v", in)
				}
				if p.PKI != nil && p.PKI.Root != nil && in.RRNChain != eidfile.Trusted {
					t.Errorf("RRN chain %s: %s", in.RRNChain, in.RRNChainDetail)
				}
				if p.Applet == "1.8" && (in.BasicKey != eidfile.Valid || in.ChipAuthentication != eidfile.Valid) {
					t.Errorf("basic key %q (%s), chip %q (%s)", in.BasicKey, in.BasicKeyDetail, in.ChipAuthentication, in.ChipAuthenticationDetail)
				}
				if p.Applet != "1.8" && in.ChipAuthentication != "" {
					t.Errorf("chip authentication %q on applet %s", in.ChipAuthentication, p.Applet)
				}
			})
		}
	}
}

func wantApplet(p *virtual.Profile) string { return p.Applet }

// checkFiles compares what came through PC/SC with the profile's files:
// data files byte for byte, certificate files up to their DER length (the
// reader does not read the zero padding).
func checkFiles(t *testing.T, got, want *eidfile.Files) {
	t.Helper()
	exact := []struct {
		name      string
		got, want []byte
	}{
		{"identity", got.Identity, want.Identity},
		{"identity signature", got.IdentitySignature, want.IdentitySignature},
		{"address", got.Address, want.Address},
		{"address signature", got.AddressSignature, want.AddressSignature},
		{"photo", got.Photo, want.Photo},
		{"basic key", got.BasicKey, want.BasicKey},
		{"card data", got.CardData, want.CardData},
	}
	for _, e := range exact {
		if !bytes.Equal(e.got, e.want) {
			t.Errorf("%s: read %d bytes, card has %d (or they differ)", e.name, len(e.got), len(e.want))
		}
	}
	certs := []struct {
		name      string
		got, want []byte
	}{
		{"auth", got.AuthCert, want.AuthCert}, {"sign", got.SignCert, want.SignCert},
		{"CA", got.CACert, want.CACert}, {"root", got.RootCert, want.RootCert}, {"RRN", got.RRNCert, want.RRNCert},
	}
	for _, c := range certs {
		wantDER, err := eidfile.CertificateDER(c.want)
		if err != nil {
			t.Fatalf("%s certificate of the profile: %v", c.name, err)
		}
		if !bytes.Equal(c.got, wantDER) {
			t.Errorf("%s certificate: read %d bytes, DER is %d", c.name, len(c.got), len(wantDER))
		}
	}
}

// TestYankThroughPCSC pulls the card out after N APDUs, for every N of a
// full read: every attempt must end in ErrCardRemoved, never in a partial
// Files, a hang or a panic.
func TestYankThroughPCSC(t *testing.T) {
	slot := lab.Slots(t)[0]
	ctx := newContext(t)
	p, err := virtual.Preset("citizen-1.8")
	if err != nil {
		t.Fatal(err)
	}
	// Count the APDUs of a complete read first.
	vc := virtual.New(p)
	in := insert(t, ctx, slot, vc)
	c, err := ctx.Connect(slot.Reader)
	if err != nil {
		t.Fatal(err)
	}
	before := in.APDUs()
	if _, err := c.ReadFiles(card.PartAll); err != nil {
		t.Fatal(err)
	}
	total := in.APDUs() - before
	c.Close()
	in.Remove()
	waitKind(t, ctx, slot.Reader, card.KindNone)

	for n := 1; n <= total; n++ {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			in := insert(t, ctx, slot, virtual.New(p))
			c, err := ctx.Connect(slot.Reader)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.Delay6C = 0 // the emulator needs no pause; keep 51 reads quick
			in.YankAfter(n)
			files, err := c.ReadFiles(card.PartAll)
			if !errors.Is(err, card.ErrCardRemoved) {
				t.Fatalf("after %d of %d APDUs: err %v, files %v", n, total, err, files != nil)
			}
			if files != nil {
				t.Fatal("partial files returned with an error")
			}
			in.Remove()
			waitKind(t, ctx, slot.Reader, card.KindNone)
		})
	}
}

func TestReadersAndChoice(t *testing.T) {
	slots := lab.Slots(t)
	if len(slots) < 2 {
		t.Fatal("the lab needs two slots")
	}
	ctx := newContext(t)
	p17, err := virtual.Preset("citizen-1.7")
	if err != nil {
		t.Fatal(err)
	}
	p18, err := virtual.Preset("citizen-1.8")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ctx.ChooseReader("no such reader"); !errors.Is(err, card.ErrReaderNotFound) {
		t.Errorf("unknown reader: %v", err)
	}
	if _, err := ctx.ChooseReader(slots[1].Reader); !errors.Is(err, card.ErrNoCard) {
		t.Errorf("empty reader: %v", err)
	}
	insert(t, ctx, slots[0], virtual.New(p17))
	insert(t, ctx, slots[1], virtual.New(p18))
	rs, err := ctx.Readers()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]card.ReaderStatus{}
	for _, r := range rs {
		got[r.Name] = r
	}
	if r := got[slots[0].Reader]; r.Kind != card.KindBELPIC || r.AppletVersion != "1.7" {
		t.Errorf("slot 0: %+v", r)
	}
	if r := got[slots[1].Reader]; r.Kind != card.KindBELPIC || r.AppletVersion != "1.8" {
		t.Errorf("slot 1: %+v", r)
	}
	if _, err := ctx.ChooseReader(""); !errors.Is(err, card.ErrAmbiguousReader) {
		t.Errorf("two cards, no name: %v", err)
	}
	if name, err := ctx.ChooseReader(slots[1].Reader); err != nil || name != slots[1].Reader {
		t.Errorf("named reader: %q %v", name, err)
	}
}
