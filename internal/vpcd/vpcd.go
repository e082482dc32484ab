// Package vpcd inserts a software card into a real pcscd through the
// vsmartcard vpcd driver, so that PC/SC applications (our reader, OpenSC,
// pcsc_scan) see it in a virtual reader.
//
// The wire protocol (testing-with-virtual-cards.md §3): vpcd, loaded by
// pcscd, listens on a TCP port per slot; the card dials it. One TCP
// connection is one inserted card: closing it removes the card. Both sides
// send frames of a 2-byte big-endian length and a payload. A 1-byte frame
// from vpcd is a control code — 00 power off, 01 power on, 02 reset (no
// reply), 04 get ATR (reply: the ATR) — and any longer frame is a command
// APDU answered by one frame holding the response APDU.
package vpcd

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync/atomic"
)

// Card is what vpcd needs of a card. *virtual.Card satisfies it.
type Card interface {
	ATR() []byte
	PowerOn()
	PowerOff()
	Reset()
	Transmit(apdu []byte) []byte
}

// Control codes vpcd sends as 1-byte frames.
const (
	ctrlPowerOff = 0x00
	ctrlPowerOn  = 0x01
	ctrlReset    = 0x02
	ctrlGetATR   = 0x04
)

// ErrYanked is Err's value after YankAfter pulled the card.
var ErrYanked = errors.New("vpcd: card yanked mid-operation")

// Insertion is one card inserted in one vpcd slot.
type Insertion struct {
	conn net.Conn
	card Card

	apdus   atomic.Int64
	yankAt  atomic.Int64 // APDU number that closes the connection; 0 = none
	removed atomic.Bool

	done chan struct{}
	err  error // set before done is closed
}

// Insert dials the vpcd slot at addr (host:port) and serves c on that
// connection until Remove, a yank, or vpcd closing it. ctx bounds the dial
// only, as with net.Dialer.DialContext. pcscd notices the card at its next
// presence poll (every 400 ms).
func Insert(ctx context.Context, addr string, c Card) (*Insertion, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("vpcd: insert into %s: %w", addr, err)
	}
	in := &Insertion{conn: conn, card: c, done: make(chan struct{})}
	go in.serve()
	return in, nil
}

// Remove pulls the card out: it closes the connection and waits until the
// serving goroutine has returned. Removing twice is harmless.
func (in *Insertion) Remove() error {
	in.removed.Store(true)
	err := in.conn.Close()
	<-in.done
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}

// YankAfter arranges for the card to be pulled out when the n-th APDU from
// now arrives: the connection closes without answering it, so the
// application's transmit fails as when a card leaves the reader
// mid-command. Control frames (power, reset, ATR polls) do not count.
// n ≤ 0 cancels a pending yank.
func (in *Insertion) YankAfter(n int) {
	if n <= 0 {
		in.yankAt.Store(0)
		return
	}
	in.yankAt.Store(in.apdus.Load() + int64(n))
}

// Done is closed when the card is out of the reader.
func (in *Insertion) Done() <-chan struct{} { return in.done }

// Err tells why the card left, once Done is closed: nil after Remove,
// ErrYanked after a yank, otherwise the connection error (io.EOF when vpcd
// closed it, e.g. because pcscd stopped).
func (in *Insertion) Err() error {
	select {
	case <-in.done:
		return in.err
	default:
		return nil
	}
}

// APDUs returns how many command APDUs arrived, the yanked one included.
func (in *Insertion) APDUs() int { return int(in.apdus.Load()) }

func (in *Insertion) serve() {
	defer close(in.done)
	err := in.loop()
	switch {
	case in.removed.Load():
		err = nil
	case errors.Is(err, ErrYanked):
	case errors.Is(err, io.ErrUnexpectedEOF):
		err = io.EOF
	}
	in.err = err
	in.conn.Close()
}

func (in *Insertion) loop() error {
	var hdr [2]byte
	buf := make([]byte, 0, 512)
	for {
		// The delayed-ACK stall: vpcd writes the length and the payload
		// with two send()s without TCP_NODELAY, so Nagle holds the payload
		// until our ACK, which Linux delays by 40 ms. Quick ACK mode is
		// not sticky, so it is set again before every read (testing doc §5).
		quickAck(in.conn)
		if _, err := io.ReadFull(in.conn, hdr[:]); err != nil {
			return err
		}
		n := int(binary.BigEndian.Uint16(hdr[:]))
		if cap(buf) < n {
			buf = make([]byte, 0, n)
		}
		frame := buf[:n]
		if n > 0 {
			quickAck(in.conn)
			if _, err := io.ReadFull(in.conn, frame); err != nil {
				return err
			}
		}
		var reply []byte
		switch {
		case n == 0:
			continue
		case n == 1:
			switch frame[0] {
			case ctrlPowerOff:
				in.card.PowerOff()
			case ctrlPowerOn:
				in.card.PowerOn()
			case ctrlReset:
				in.card.Reset()
			case ctrlGetATR:
				reply = in.card.ATR()
			}
			if frame[0] != ctrlGetATR {
				continue
			}
		default:
			k := in.apdus.Add(1)
			if at := in.yankAt.Load(); at != 0 && k >= at {
				return ErrYanked
			}
			reply = in.card.Transmit(append([]byte(nil), frame...))
		}
		if err := writeFrame(in.conn, reply); err != nil {
			return err
		}
	}
}

// writeFrame sends length and payload in one write: two writes would meet
// the delayed-ACK stall on vpcd's side.
func writeFrame(w io.Writer, payload []byte) error {
	if len(payload) > 0xFFFF {
		return fmt.Errorf("vpcd: frame of %d bytes", len(payload))
	}
	out := make([]byte, 2+len(payload))
	binary.BigEndian.PutUint16(out, uint16(len(payload)))
	copy(out[2:], payload)
	_, err := w.Write(out)
	return err
}
