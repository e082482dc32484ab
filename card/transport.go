package card

import (
	"errors"
	"fmt"
	"time"
)

// Transport carries command APDUs to one card and returns the response APDU
// (data || SW1 SW2). PC/SC is one Transport; a virtual card plugged in
// in-process is another.
//
// A Transport reports a card that went away with an error matching
// ErrCardRemoved.
type Transport interface {
	Transmit(cmd []byte) ([]byte, error)
}

// Transactor is implemented by transports that can give one program exclusive
// use of the card for a sequence of APDUs (PC/SC transactions). Card uses it
// around every multi-APDU operation so another program cannot interleave
// commands (and change the selected file) in the middle of a read.
type Transactor interface {
	Begin() error
	End() error
}

// TransportFunc adapts a function to Transport.
type TransportFunc func(cmd []byte) ([]byte, error)

// Transmit calls f.
func (f TransportFunc) Transmit(cmd []byte) ([]byte, error) { return f(cmd) }

// Stats counts the traffic of a Card: commands sent (GET RESPONSE and 6Cxx
// re-sends included) and bytes in each direction.
type Stats struct {
	APDUs         int
	BytesSent     int
	BytesReceived int
}

// Card is a Belgian eID card reached through a Transport. A Card is not safe
// for concurrent use: one operation at a time (the agent serialises per
// reader).
type Card struct {
	t      Transport
	reader string
	atr    []byte
	stats  Stats
	// cardData is the last GET CARD DATA answer; it tells the applet.
	cardData []byte

	// ReadBlock is the Le of READ BINARY (1..256). 256 reads a file in the
	// fewest commands; eid-mw uses 252 because of one old reader (ref §2.4).
	ReadBlock int
	// Delay6C is the pause before re-sending a command the card answered
	// with 6C xx. Delay6CAuto (the default) picks it from the card data
	// once GET CARD DATA has been read; see auto6CDelay.
	Delay6C time.Duration

	closer func() error

	// pin is the PIN and PIN-pad state of the card session (pinops.go).
	pin pinState
}

// Delay6CAuto lets the card's GET CARD DATA decide Delay6C.
const Delay6CAuto time.Duration = -1

// auto6CDelay is the pause after 6C xx for a card. V1 cards stop answering
// when the re-send follows too soon (ref §2.4: at least 10 ms per
// commons-eid; OpenSC waits 40 ms for every BELPIC card; eid-mw waits 50 ms
// when GET CARD DATA bytes 22-23 are 00 01, which covers V1 cards and, by
// the same bytes, 1.8). eid-mw's rule plus every pre-1.7 applet is followed,
// with its 50 ms; applet 1.7 cards (bytes 00 03) get no pause, as in eid-mw.
// A read ends most files with a 6C, so this is most of a 1.1 or 1.8 read's
// time (docs/benchmarks.md).
func auto6CDelay(cardData []byte) time.Duration {
	if len(cardData) < 24 {
		return 50 * time.Millisecond
	}
	if cardData[21] < 0x17 || (cardData[22] == 0x00 && cardData[23] == 0x01) {
		return 50 * time.Millisecond
	}
	return 0
}

// New wraps a Transport. reader and atr are informational (they end up in
// the Reading); atr may be nil.
func New(t Transport, reader string, atr []byte) *Card {
	return &Card{t: t, reader: reader, atr: append([]byte(nil), atr...), ReadBlock: 256, Delay6C: Delay6CAuto}
}

// Reader returns the reader name given at connection.
func (c *Card) Reader() string { return c.reader }

// ATR returns the card's answer to reset.
func (c *Card) ATR() []byte { return append([]byte(nil), c.atr...) }

// Stats returns the traffic counted since the card was opened.
func (c *Card) Stats() Stats { return c.stats }

// Close releases the connection (for PC/SC: SCardDisconnect, leaving the card
// powered). Closing a Card made by New does nothing.
func (c *Card) Close() error {
	if c.closer == nil {
		return nil
	}
	err := c.closer()
	c.closer = nil
	return err
}

// withTransaction runs f inside a transaction when the transport has them.
func (c *Card) withTransaction(f func() error) (err error) {
	tx, ok := c.t.(Transactor)
	if !ok {
		return f()
	}
	if err := tx.Begin(); err != nil {
		return err
	}
	defer func() {
		if endErr := tx.End(); endErr != nil && err == nil {
			// The card was pulled between the last APDU and the end of the
			// transaction: the data is complete, but say what happened only
			// if nothing else failed.
			if !errors.Is(endErr, ErrCardRemoved) {
				err = endErr
			}
		}
	}()
	return f()
}

// Transmit sends one command APDU and resolves the T=0 transport quirks:
// 61 xx (more data: GET RESPONSE) and 6C xx (wrong Le: re-send with Le=xx).
// It returns the response data and the final status word; a status word
// other than 9000 is not an error here (callers decide).
func (c *Card) Transmit(cmd []byte) (data []byte, sw uint16, err error) {
	resp, err := c.transmitRaw(cmd)
	if err != nil {
		return nil, 0, err
	}
	resent := false
	for {
		body, sw1, sw2 := resp[:len(resp)-2], resp[len(resp)-2], resp[len(resp)-1]
		data = append(data, body...)
		switch {
		case sw1 == 0x61:
			// ref §2.5: xx bytes wait (00 = 256 or more); fetch them, the
			// card may chain again with 61 yy.
			resp, err = c.transmitRaw([]byte{claISO, insGetResponse, 0x00, 0x00, sw2})
		case sw1 == 0x6C && !resent && len(cmd) == 5:
			// ref §2.4: Le too large for what is left. Only case-2 commands
			// (READ BINARY, GET CARD DATA) have a trailing Le to correct.
			resent = true
			if d := c.Delay6C; d > 0 {
				time.Sleep(d)
			} else if d == Delay6CAuto {
				time.Sleep(auto6CDelay(c.cardData))
			}
			retry := append([]byte(nil), cmd...)
			retry[4] = sw2
			resp, err = c.transmitRaw(retry)
		default:
			return data, uint16(sw1)<<8 | uint16(sw2), nil
		}
		if err != nil {
			return nil, 0, err
		}
	}
}

func (c *Card) transmitRaw(cmd []byte) ([]byte, error) {
	c.stats.APDUs++
	c.stats.BytesSent += len(cmd)
	resp, err := c.t.Transmit(cmd)
	if err != nil {
		return nil, err
	}
	c.stats.BytesReceived += len(resp)
	if len(resp) < 2 {
		return nil, fmt.Errorf("card answered %d bytes, expected at least a status word: %w", len(resp), ErrUnsupportedCard)
	}
	return resp, nil
}

// command sends cmd and turns a status word other than 9000 into a
// *StatusError (or *PINError for 63 Cx) named after the command.
func (c *Card) command(name string, cmd []byte) ([]byte, error) {
	data, sw, err := c.Transmit(cmd)
	if err != nil {
		return nil, err
	}
	if sw != 0x9000 {
		return data, swError(name, sw)
	}
	return data, nil
}

func swError(name string, sw uint16) error {
	if sw&0xFFF0 == 0x63C0 {
		return &PINError{Retries: int(sw & 0x0F)}
	}
	return &StatusError{Command: name, SW1: byte(sw >> 8), SW2: byte(sw)}
}
