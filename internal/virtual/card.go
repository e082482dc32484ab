package virtual

import (
	"sync"
	"time"
)

// DefaultPIN is the cardholder PIN of a profile that names none.
const DefaultPIN = "1234"

// maxPINTries is the cardholder PIN try counter (ref §7.1).
const maxPINTries = 3

// Card is one emulated card. The zero value is not usable; call New.
//
// What lives in the chip's EEPROM (PIN value, try counter, INTERNAL
// AUTHENTICATE counter) survives PowerOff, PowerOn and Reset; everything
// else (selection, security environment, granted rights, pending response)
// is transient and cleared by them, as on the real card.
type Card struct {
	mu sync.Mutex

	p          *Profile
	gen        generation
	fs         *fileSystem
	shortReads bool
	perByte    time.Duration
	perAPDU    time.Duration
	trace      func(cmd, resp []byte)
	timed      func(cmd, resp []byte, start, end time.Time)

	powered bool
	count   int

	// Persistent state.
	pin      string
	tries    int
	iaCalls  int  // INTERNAL AUTHENTICATE calls since the last good VERIFY (ref §8.5)
	iaLocked bool // the 5000-call limit was hit

	// Transient state.
	appletSelected bool
	cur            *node
	pending        []byte // response data waiting for GET RESPONSE (ref §2.5)
	sec            security
}

// Option changes how New builds a card.
type Option func(*Card)

// WithShortReads makes READ BINARY past the end of a file answer the bytes
// that are left with 90 00 instead of 6C xx, which is what some PC/SC stacks
// show applications after resolving 6C xx themselves (ref §2.4). Reading at
// or beyond the end still answers 6B 00.
func WithShortReads() Option { return func(c *Card) { c.shortReads = true } }

// WithPIN sets the cardholder PIN (4 to 12 digits), overriding the profile's.
func WithPIN(pin string) Option { return func(c *Card) { c.pin = pin } }

// WithDelay makes every APDU take perByte for each byte of command and
// response, for timing realism: the real card moves a byte in about
// 0.05–0.3 ms depending on the negotiated rate (ref §10, §12 item 13).
func WithDelay(perByte time.Duration) Option { return func(c *Card) { c.perByte = perByte } }

// WithLink models the link to a real card for benchmarks: every APDU takes
// perAPDU (the reader's and card's turnaround: command processing, the
// T=0 procedure bytes, the reader's USB round trip) plus perByte for each
// byte of command and response (the bit rate TA1 gives; ref §1.3). It
// replaces WithDelay. LinkTime adds the same costs up for a trace.
func WithLink(perAPDU, perByte time.Duration) Option {
	return func(c *Card) { c.perAPDU, c.perByte = perAPDU, perByte }
}

// LinkTime is what WithLink(perAPDU, perByte) charges for one APDU of cmd
// and resp: the wire time of that exchange.
func LinkTime(perAPDU, perByte time.Duration, cmd, resp int) time.Duration {
	return perAPDU + perByte*time.Duration(cmd+resp)
}

// WithTimedTrace is WithTrace with when the card took the command and
// when it answered (after WithLink's time): what happens between two
// APDUs is then the host's, not the card's.
func WithTimedTrace(fn func(cmd, resp []byte, start, end time.Time)) Option {
	return func(c *Card) { c.timed = fn }
}

// WithTrace calls fn after every APDU with the command and the response. fn
// runs while the card is locked: it must not call the card.
func WithTrace(fn func(cmd, resp []byte)) Option { return func(c *Card) { c.trace = fn } }

// New returns a powered card, freshly reset, serving profile p. The card
// never modifies p; a PIN change lives in the card only. New panics when
// p.Validate fails or WithPIN gave no 4-to-12-digit PIN: a programming error,
// since LoadDump, Generate and Preset only return valid profiles.
func New(p *Profile, opts ...Option) *Card {
	if err := p.Validate(); err != nil {
		panic("virtual.New: " + err.Error())
	}
	g, _ := generationOf(p.Applet)
	c := &Card{p: p, gen: g, fs: newFileSystem(p.Files), pin: p.PIN, tries: maxPINTries}
	if c.pin == "" {
		c.pin = DefaultPIN
	}
	for _, o := range opts {
		o(c)
	}
	if _, err := pinBlock(c.pin); err != nil {
		panic("virtual.New: PIN must be 4 to 12 digits")
	}
	c.powered = true
	c.resetLocked()
	return c
}

// Profile returns the profile the card serves.
func (c *Card) Profile() *Profile { return c.p }

// ATR returns the answer to reset of the card's generation (ref §1.2).
func (c *Card) ATR() []byte { return append([]byte(nil), c.p.ATR...) }

// PowerOn applies power: a cold reset.
func (c *Card) PowerOn() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.powered = true
	c.resetLocked()
}

// PowerOff removes power; transient state is lost. An unpowered card is
// mute: Transmit returns nil.
func (c *Card) PowerOff() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.powered = false
	c.resetLocked()
}

// Reset is a warm reset: transient state cleared, the Belpic applet selected
// (it is default-selected, ref §2.2) and the MF current.
func (c *Card) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.powered = true
	c.resetLocked()
}

func (c *Card) resetLocked() {
	c.appletSelected = true
	c.cur = c.fs.root
	c.pending = nil
	c.sec = security{}
}

// Count returns how many APDUs the card has answered since New.
func (c *Card) Count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.count
}

// PINTries returns the cardholder PIN tries left (0 = blocked).
func (c *Card) PINTries() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tries
}

// Transmit executes one command APDU and returns the response data followed
// by SW1 SW2. It never panics on malformed input. Calls are serialised.
func (c *Card) Transmit(cmd []byte) []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.powered {
		return nil
	}
	c.count++
	start := time.Now()
	resp := c.dispatch(cmd)
	if c.perByte > 0 || c.perAPDU > 0 {
		time.Sleep(LinkTime(c.perAPDU, c.perByte, len(cmd), len(resp)))
	}
	if c.trace != nil {
		c.trace(append([]byte(nil), cmd...), append([]byte(nil), resp...))
	}
	if c.timed != nil {
		c.timed(append([]byte(nil), cmd...), append([]byte(nil), resp...), start, time.Now())
	}
	return resp
}
