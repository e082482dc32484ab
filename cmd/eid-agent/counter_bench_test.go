package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eid-agent/eid-agent/bridge/client"
	"github.com/eid-agent/eid-agent/card"
	"github.com/eid-agent/eid-agent/internal/lab"
	"github.com/eid-agent/eid-agent/internal/virtual"
	"github.com/eid-agent/eid-agent/internal/vpcd"
	"github.com/eid-agent/eid-agent/verify"
)

// The link model of BenchmarkCounterPush: a turnaround per APDU and a
// time per byte from the ATR's bit rate (ref §1.3, §10 at a 4 MHz reader
// clock: TA1=13 on pre-1.8 cards, TA1=96 on 1.8).
const benchPerAPDU = 10 * time.Millisecond

func benchPerByte(applet string) time.Duration {
	if applet == "1.8" {
		return 50 * time.Microsecond
	}
	return 300 * time.Microsecond
}

// linkTrace records what a virtual card exchanged, to add up its wire
// time under the link model.
// Besides the sum, it keeps when the first APDU started and the last
// ended, and the idle time between APDUs (host, PC/SC and vpcd work, and
// the pauses after 6C xx). The card's own time above the model (its
// sleep overshooting) is in neither.
type linkTrace struct {
	perAPDU, perByte time.Duration
	mu               sync.Mutex
	apdus            int
	wire, gaps       time.Duration
	first, last      time.Time
}

func (l *linkTrace) trace(cmd, resp []byte, start, end time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.apdus == 0 {
		l.first = start
	} else {
		l.gaps += start.Sub(l.last)
	}
	l.apdus++
	l.wire += virtual.LinkTime(l.perAPDU, l.perByte, len(cmd), len(resp))
	l.last = end
}

func (l *linkTrace) reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.apdus, l.wire, l.gaps = 0, 0, 0
}

// get returns the APDUs, their wire time, the idle time between them and
// the time outside them (from start to the first, from the last to end).
func (l *linkTrace) get(start, end time.Time) (n int, wire, gaps, edges time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.apdus, l.wire, l.gaps, l.first.Sub(start) + end.Sub(l.last)
}

// linkMinimum is the least the link allows for fields of p: GET CARD
// DATA, then per file one SELECT (path form, 11 bytes) and
// ceil(size/256) READ BINARY of exactly the file's bytes, and on 1.8 the
// attestation's INTERNAL AUTHENTICATE and GET RESPONSE. A returning card's
// photo comes from the cache (its hash is in the identity file) and its
// RRN certificate needs its last 256 bytes, the issuer's signature, to be
// told from another (card/cache.go): one READ BINARY.
func linkMinimum(p *virtual.Profile, returning bool, perAPDU, perByte time.Duration) (int, time.Duration) {
	n, t := 1, virtual.LinkTime(perAPDU, perByte, 5, 28+2)
	files := []string{virtual.PathIdentity, virtual.PathIdentitySig, virtual.PathAddress, virtual.PathAddressSig}
	if returning {
		n += 2
		t += virtual.LinkTime(perAPDU, perByte, 11, 2) + virtual.LinkTime(perAPDU, perByte, 5, 256+2)
	} else {
		files = append(files, virtual.PathPhoto, virtual.PathRRNCert)
	}
	if p.Applet == "1.8" {
		files = append(files, virtual.PathBasicKey)
	}
	for _, f := range files {
		size := len(trimZeros(p.Files[f]))
		if f == virtual.PathAddress || f == virtual.PathIdentitySig || f == virtual.PathAddressSig {
			size = len(p.Files[f]) // read to the end of the file: its size is not known
		}
		n++
		t += virtual.LinkTime(perAPDU, perByte, 11, 2)
		for off := 0; off < size; off += 256 {
			k := min(256, size-off)
			n++
			t += virtual.LinkTime(perAPDU, perByte, 5, k+2)
		}
	}
	if p.Applet == "1.8" {
		n += 2
		t += virtual.LinkTime(perAPDU, perByte, 5+2+48, 2) + virtual.LinkTime(perAPDU, perByte, 5, 96+2)
	}
	return n, t
}

// trimZeros drops a certificate file's zero padding (the reader stops at
// the certificate's DER length).
func trimZeros(b []byte) []byte {
	for len(b) > 0 && b[len(b)-1] == 0 {
		b = b[:len(b)-1]
	}
	return b
}

// BenchmarkCounterPush measures, through the real binary, pcscd and vpcd,
// with a virtual card charging a real card's link (benchPerAPDU and
// benchPerByte), the time from the card-inserted event a client receives
// to the card's identity, address, photo and proof of presence:
//
//   - read: today's way, a client that sends read(identity, address,
//     photo, integrity) when it sees card-inserted;
//   - counter: counter mode, the card-read push of a pairing with those
//     fields and an attestation for a standing nonce.
//
// Each for a new card (the agent started afresh) and a returning one (the
// same card again: photo from the cache). Reported per case: push-ms (the
// time measured), wire-ms (the link time of the APDUs the card received
// meanwhile), ratio (push ÷ wire: how far the agent is from its own wire
// time), host-ratio ((wire + gaps + edges) ÷ wire: the same without the
// emulator's own lateness, its sleeps overshooting the model), gaps-ms (idle link between the APDUs: PC/SC, vpcd and agent work,
// pauses after 6C xx), edges-ms (from the event to the first APDU and from
// the last APDU to the push), min-ms (the least the link allows for the
// same data, see linkMinimum) and APDUs. docs/benchmarks.md has a run.
func BenchmarkCounterPush(b *testing.B) {
	slot := lab.Slots(b)[0]
	const desk, reader = "https://desk.example", "https://reader.example"
	policy := `[[counter]]
client = "` + desk + `"
fields = ["identity", "address", "photo", "integrity"]
attestation = true
`
	fields := []string{"identity", "address", "photo", "integrity"}
	for _, preset := range []string{"citizen-1.7", "citizen-1.8"} {
		p, err := virtual.Preset(preset)
		if err != nil {
			b.Fatal(err)
		}
		lt := &linkTrace{perAPDU: benchPerAPDU, perByte: benchPerByte(p.Applet)}
		for _, mode := range []string{"read", "counter"} {
			for _, returning := range []bool{false, true} {
				name := fmt.Sprintf("%s/%s/new", preset, mode)
				if returning {
					name = fmt.Sprintf("%s/%s/returning", preset, mode)
				}
				b.Run(name, func(b *testing.B) {
					var push, wire, gaps, edges time.Duration
					var apdus int
					for b.Loop() {
						d := startCounterDaemon(b, policy, "consent_prompt = \"none\"\n", "--grant", reader+"=identity,address,photo,integrity", "--allow-origin", reader)
						c := d.dial(map[string]string{"read": reader, "counter": desk}[mode])
						ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
						if err := c.Call(ctx, "subscribe", nil, nil); err != nil {
							b.Fatal(err)
						}
						store := &verify.MemoryNonceStore{}
						if mode == "counter" {
							n, _ := store.Issue()
							if err := c.Call(ctx, "counter", map[string]string{"nonce": n}, nil); err != nil {
								b.Fatal(err)
							}
						}
						rounds := 1
						if returning {
							rounds = 2 // the first makes the card known
						}
						for r := 0; r < rounds; r++ {
							lt.reset()
							in, err := vpcd.Insert(context.Background(), slot.Addr, virtual.New(p,
								virtual.WithLink(lt.perAPDU, lt.perByte), virtual.WithTimedTrace(lt.trace)))
							if err != nil {
								b.Fatal(err)
							}
							start := waitInserted(b, c, slot.Reader)
							switch mode {
							case "read":
								if err := c.Call(ctx, "read", map[string]any{"fields": fields, "reader": slot.Reader}, nil); err != nil {
									b.Fatal(err)
								}
							case "counter":
								rd, _ := waitCardRead(b, c, 30*time.Second)
								if rd.Attestation == nil {
									b.Fatalf("card-read without attestation: %+v", rd.AttestationError)
								}
							}
							end := time.Now()
							if r == rounds-1 {
								n, w, g, e := lt.get(start, end)
								push, wire, gaps, edges, apdus = push+end.Sub(start), wire+w, gaps+g, edges+e, apdus+n
							}
							if mode == "counter" {
								n, _ := store.Issue()
								if err := c.Call(ctx, "counter", map[string]string{"nonce": n}, nil); err != nil {
									b.Fatal(err)
								}
							}
							in.Remove()
							nextEvent(b, c, "card-removed", 10*time.Second)
						}
						cancel()
						d.stop()
					}
					n := float64(b.N)
					minN, minT := linkMinimum(p, returning, lt.perAPDU, lt.perByte)
					b.ReportMetric(float64(push.Milliseconds())/n, "push-ms")
					b.ReportMetric(float64(wire.Milliseconds())/n, "wire-ms")
					b.ReportMetric(float64(push)/float64(wire), "ratio")
					b.ReportMetric(float64(wire+gaps+edges)/float64(wire), "host-ratio")
					b.ReportMetric(float64(gaps.Milliseconds())/n, "gaps-ms")
					b.ReportMetric(float64(edges.Milliseconds())/n, "edges-ms")
					b.ReportMetric(float64(minT.Milliseconds()), "min-ms")
					b.ReportMetric(float64(apdus)/n, "APDUs")
					b.ReportMetric(float64(minN), "min-APDUs")
				})
			}
		}
	}
}

// BenchmarkLabTransport is the lab's own cost per APDU, in the same
// conditions as BenchmarkCounterPush: GET CARD DATA sent from this process
// through pcscd and vpcd to a virtual card that answers at once. A real
// reader has no vpcd hop (its USB time is in the link model's per-APDU
// turnaround), so docs/benchmarks.md subtracts this from the push times.
func BenchmarkLabTransport(b *testing.B) {
	slot := lab.Slots(b)[0]
	p, err := virtual.Preset("citizen-1.8")
	if err != nil {
		b.Fatal(err)
	}
	in, err := vpcd.Insert(context.Background(), slot.Addr, virtual.New(p))
	if err != nil {
		b.Fatal(err)
	}
	defer in.Remove()
	pc, err := card.NewContext()
	if err != nil {
		b.Fatal(err)
	}
	defer pc.Release()
	var c *card.Card
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if c, err = pc.Connect(slot.Reader); err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	for b.Loop() {
		if _, err := c.ReadCardData(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/APDU")
}

// waitInserted waits for reader's card-inserted on c and returns when it
// came.
func waitInserted(b testing.TB, c *client.Client, reader string) time.Time {
	for {
		e := nextEvent(b, c, "card-inserted", 10*time.Second)
		if strings.Contains(string(e.Data), reader) {
			return time.Now()
		}
	}
}
