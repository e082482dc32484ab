package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/eid-agent/eid-agent/bridge"
	"github.com/eid-agent/eid-agent/card"
	"github.com/eid-agent/eid-agent/card/eidfile"
)

// Counter mode: an application the administrator paired in the policy (a
// web origin or a desktop application) gets each inserted card read once
// and pushed to its connections as a card-read event, with exactly the
// fields of its pairing and, when the pairing asks for it, an attestation
// for the nonce its server left standing. No other connection sees the
// data; removing the card drops it (card-removed). Each push is journaled
// as a reading proof with its caller and audited with the fields
// released. The revocation check, when paired, runs after the push and is
// reported by a later card-revocation event. docs/daemon.md, "Counter
// mode".

// CounterApp is one pairing of the policy.
type CounterApp struct {
	// Client is the web origin or "app:NAME" (bridge.Caller.String()).
	Client string
	// Fields released: card, identity, identity.MEMBER (one member of the
	// identity JSON, e.g. identity.surname), address, photo, photoSha256,
	// integrity.
	Fields []string
	// Attestation: each card-read carries an attestation for the nonce
	// the application left standing, and waits for one.
	Attestation bool
	// Revocation: the authentication certificate's status follows each
	// card-read (card-revocation).
	Revocation bool
}

// Counter implements bridge.CounterBackend for the Backend it belongs to
// (Backend.Counter). Create it with NewCounter.
type Counter struct {
	b    *Backend
	apps map[string]CounterApp
	// Revocation checks a certificate (nil: "unavailable").
	Revocation RevocationChecker
	// readTimeout bounds the wait for the reader of an insertion read.
	readTimeout time.Duration

	mu       sync.Mutex
	sessions map[*counterSession]struct{}
	held     map[string]*heldCard // by reader: the current insertion's read
}

// RevocationChecker asks a certificate's status (OCSP).
type RevocationChecker func(ctx context.Context, cert, issuer []byte) (status, detail string)

// heldCard is the one read of an insertion, kept until the card goes.
type heldCard struct {
	insertion uint64
	done      chan struct{} // closed when files/reading/err are set
	files     *eidfile.Files
	reading   *eidfile.Reading
	err       error
}

// NewCounter pairs apps with b; it hooks itself to b's Monitor.
func NewCounter(b *Backend, apps []CounterApp) *Counter {
	c := &Counter{b: b, apps: map[string]CounterApp{}, readTimeout: 30 * time.Second,
		sessions: map[*counterSession]struct{}{}, held: map[string]*heldCard{}}
	for _, a := range apps {
		c.apps[a.Client] = a
	}
	b.Counter = c
	if b.Monitor != nil {
		b.Monitor.OnEvent(c.onEvent)
	}
	return c
}

// Paired reports whether caller has a pairing.
func (c *Counter) Paired(caller string) bool { _, ok := c.apps[caller]; return ok }

func (c *Counter) log() *slog.Logger { return c.b.log() }

// active reports whether a counter connection is open: only then does an
// insertion get read.
func (c *Counter) active() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.sessions) > 0
}

// onEvent is the Monitor hook. It runs under the monitor's lock, in event
// order: it must not call the monitor, and does its card work elsewhere.
// A removal drops the held data before any subscriber hears of it.
func (c *Counter) onEvent(e card.Event, insertion uint64) {
	switch e.Type {
	case card.EventCardInserted:
		if card.IsBELPICATR(e.ATR) && c.active() {
			c.startRead(e.Reader, insertion)
		}
	case card.EventCardRemoved, card.EventReaderRemoved:
		c.drop(e.Reader)
	case card.EventServiceDown:
		c.mu.Lock()
		readers := make([]string, 0, len(c.held))
		for r := range c.held {
			readers = append(readers, r)
		}
		c.mu.Unlock()
		for _, r := range readers {
			c.drop(r)
		}
	}
}

// drop forgets reader's card and tells the sessions that had it.
func (c *Counter) drop(reader string) {
	c.mu.Lock()
	h := c.held[reader]
	delete(c.held, reader)
	var tell []*counterSession
	for s := range c.sessions {
		if s.forget(reader) || h != nil {
			tell = append(tell, s)
		}
	}
	c.mu.Unlock()
	for _, s := range tell {
		s.send(string(bridge.EventCardRemoved), bridge.CardEvent{Reader: reader})
	}
}

// startRead reads reader's card of insertion once, in the background,
// unless it is being read or was read.
func (c *Counter) startRead(reader string, insertion uint64) {
	c.mu.Lock()
	if h, ok := c.held[reader]; ok && h.insertion == insertion {
		c.mu.Unlock()
		return
	}
	h := &heldCard{insertion: insertion, done: make(chan struct{})}
	c.held[reader] = h
	c.mu.Unlock()
	go c.read(reader, h)
}

// parts is what the pairings need from the card.
func (c *Counter) parts() card.Parts {
	p := card.PartIdentity
	for _, a := range c.apps {
		p |= counterParts(a.Fields, a.Revocation)
	}
	return p
}

// counterParts is what one pairing needs: the files a read of its fields
// needs (readParts), without the chip challenge, which the counter runs
// itself in the insertion's transaction (an attestation's is bound to the
// application's nonce), and with the certificates when the pairing checks
// revocation.
func counterParts(fields []string, revocation bool) card.Parts {
	p := readParts(fields) &^ card.PartChipAuthentication
	if revocation {
		p |= card.PartCertificates
	}
	return p
}

// read is the insertion's one read. In the same card transaction it has
// the basic key answer each session that is owed an attestation and has a
// nonce standing, so the first card-read needs no second visit to the
// card. Then it delivers to every session.
func (c *Counter) read(reader string, h *heldCard) {
	ctx, cancel := context.WithTimeout(context.Background(), c.readTimeout)
	defer cancel()
	b := c.b
	atts := map[*counterSession]attestOutcome{}
	err := func() error {
		release, err := b.queue.acquire(ctx, reader, c.readTimeout)
		if err != nil {
			return err
		}
		defer release()
		cd, err := b.hw().Connect(reader)
		if err != nil {
			return err
		}
		defer cd.Close()
		if b.Monitor.Insertion(reader) != h.insertion {
			return card.ErrCardRemoved
		}
		var r *eidfile.Reading
		files, err := cd.ReadFilesThen(c.parts(), b.Cache, func(f *eidfile.Files) error {
			// Verified once, before any challenge: the push's integrity
			// and the attestations' check before spending come from it.
			var err error
			if r, err = eidfile.DecodeVerify(f, b.trust(), b.now()); err != nil {
				return err
			}
			for _, s := range c.owed(reader, h.insertion) {
				if !s.app.Attestation {
					continue
				}
				if n := s.takeNonce(); n != "" {
					atts[s] = c.attest(cd, f, r.Integrity, s, n, h.insertion)
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		if d, err := eidfile.ParseCardData(files.CardData); err == nil {
			b.applets.put(reader, h.insertion, d.AppletVersion)
		}
		r.Card.Reader = reader
		h.files, h.reading = files, r
		return nil
	}()
	h.err = err
	close(h.done)
	if err != nil {
		c.log().Info("counter read", "reader", reader, "outcome", string(bridge.ErrorOf(err).Code))
		return
	}
	for _, s := range c.owed(reader, h.insertion) {
		if a, ok := atts[s]; ok {
			s.deliver(reader, h, a)
		} else {
			s.due(reader, h)
		}
	}
}

// owed lists the started sessions that have not had reader's card of
// insertion.
func (c *Counter) owed(reader string, insertion uint64) []*counterSession {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*counterSession
	for s := range c.sessions {
		if s.owes(reader, insertion) {
			out = append(out, s)
		}
	}
	return out
}

type attestOutcome struct {
	att *eidfile.Attestation
	err error
}

// attest makes s's attestation of the files read, on the open card cd
// (inside the read's transaction, or on a later visit with the same card).
func (c *Counter) attest(cd *card.Card, f *eidfile.Files, in eidfile.Integrity, s *counterSession, nonce string, insertion uint64) attestOutcome {
	released := *f
	if !slices.Contains(s.app.Fields, "address") {
		released.Address, released.AddressSignature = nil, nil
	}
	if !slices.Contains(s.app.Fields, "photo") {
		released.Photo = nil
	}
	bundle := bundleOf(&released)
	if err := checkVerdicts(in, &released); err != nil {
		return attestOutcome{err: err}
	}
	origin := s.caller.String()
	att := &eidfile.Attestation{Format: eidfile.AttestationFormat, Origin: origin, Nonce: nonce,
		Fields: attestFieldsOf(s.app.Fields), Bundle: bundle}
	if f.BasicKey == nil {
		return attestOutcome{att: att}
	}
	if err := c.b.attests.take(c.b.AttestLimits, cd.Reader(), insertion, origin, c.b.now()); err != nil {
		return attestOutcome{err: err}
	}
	challenge := AttestationChallenge(origin, nonce, bundle)
	sig, err := cd.InternalAuthenticate(challenge)
	if err != nil {
		return attestOutcome{err: err}
	}
	att.Challenge, att.ChipSignature = challenge, sig
	return attestOutcome{att: att}
}

// attestFieldsOf is the attestation's fields for a pairing's fields.
func attestFieldsOf(fields []string) []string {
	out := []string{"identity"}
	for _, f := range []string{"address", "photo"} {
		if slices.Contains(fields, f) {
			out = append(out, f)
		}
	}
	slices.Sort(out)
	return out
}

// attestLater makes an attestation when the nonce came after the read: a
// second, short visit to the card (GET CARD DATA to check it is the same
// chip, INTERNAL AUTHENTICATE).
func (c *Counter) attestLater(reader string, h *heldCard, s *counterSession, nonce string) {
	ctx, cancel := context.WithTimeout(s.ctx, c.readTimeout)
	defer cancel()
	b := c.b
	out := func() attestOutcome {
		release, err := b.queue.acquire(ctx, reader, c.readTimeout)
		if err != nil {
			return attestOutcome{err: err}
		}
		defer release()
		cd, err := b.hw().Connect(reader)
		if err != nil {
			return attestOutcome{err: err}
		}
		defer cd.Close()
		cdata, err := cd.ReadCardData()
		if err != nil {
			return attestOutcome{err: err}
		}
		if b.Monitor.Insertion(reader) != h.insertion || len(cdata) < 16 || string(cdata[:16]) != string(h.files.CardData[:16]) {
			return attestOutcome{err: card.ErrCardRemoved}
		}
		return c.attest(cd, h.files, h.reading.Integrity, s, nonce, h.insertion)
	}()
	if errors.Is(out.err, card.ErrCardRemoved) || errors.Is(out.err, context.Canceled) {
		return // card-removed follows, or the session is gone
	}
	s.deliver(reader, h, out)
}

// CounterJoin implements bridge.CounterBackend.
func (c *Counter) CounterJoin(ctx context.Context, caller bridge.Caller, push func(string, any)) (bridge.CounterSession, *bridge.CounterPairing, error) {
	app, ok := c.apps[caller.String()]
	if !ok {
		return nil, nil, fmt.Errorf("%w: %s is not a counter application of the policy", bridge.ErrConsentDenied, caller.String())
	}
	s := &counterSession{c: c, app: app, caller: caller, ctx: ctx, push: push,
		queue: make(chan counterEvent, 16), had: map[string]uint64{}}
	c.mu.Lock()
	c.sessions[s] = struct{}{}
	c.mu.Unlock()
	go s.run()
	context.AfterFunc(ctx, func() {
		c.mu.Lock()
		delete(c.sessions, s)
		c.mu.Unlock()
	})
	return s, &bridge.CounterPairing{Fields: slices.Clone(app.Fields), Attestation: app.Attestation, Revocation: app.Revocation}, nil
}

// counterSession is one counter connection.
type counterSession struct {
	c      *Counter
	app    CounterApp
	caller bridge.Caller
	ctx    context.Context
	push   func(string, any)
	queue  chan counterEvent

	mu      sync.Mutex
	started bool
	nonce   string
	// had: per reader, the insertion whose card-read this session got
	// (or is getting).
	had map[string]uint64
}

type counterEvent struct {
	name string
	data any
}

// run writes the session's events in order until its connection ends.
func (s *counterSession) run() {
	for {
		select {
		case <-s.ctx.Done():
			return
		case e := <-s.queue:
			s.push(e.name, e.data)
		}
	}
}

// send queues an event. A session 16 events behind has a client that
// stopped reading; the bridge disconnects it (write timeout), so the
// event is dropped rather than held.
func (s *counterSession) send(name string, data any) {
	select {
	case s.queue <- counterEvent{name, data}:
	case <-s.ctx.Done():
	default:
		s.c.log().Warn("counter event dropped: client not reading", "caller", s.caller.String(), "event", name)
	}
}

// owes: started, and reader's card of insertion not yet delivered.
// Called with c.mu held.
func (s *counterSession) owes(reader string, insertion uint64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.started && s.had[reader] != insertion
}

// forget: the card left reader; reports whether this session had it.
// Called with c.mu held.
func (s *counterSession) forget(reader string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, had := s.had[reader]
	delete(s.had, reader)
	return had
}

func (s *counterSession) takeNonce() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.nonce
	s.nonce = ""
	return n
}

// due is reader's card read without an attestation for this session:
// deliver now unless the pairing requires one and no nonce stands, then
// wait for SetNonce.
func (s *counterSession) due(reader string, h *heldCard) {
	if !s.app.Attestation {
		s.deliver(reader, h, attestOutcome{})
		return
	}
	if n := s.takeNonce(); n != "" {
		go s.c.attestLater(reader, h, s, n)
	}
}

// Start implements bridge.CounterSession: the cards in the readers now are
// this session's first card-reads.
func (s *counterSession) Start() {
	s.mu.Lock()
	s.started = true
	s.mu.Unlock()
	c := s.c
	if c.b.Monitor == nil {
		return
	}
	for _, r := range c.b.Monitor.Snapshot().Readers {
		if r.Card != card.KindBELPIC {
			continue
		}
		c.mu.Lock()
		h, ok := c.held[r.Name]
		c.mu.Unlock()
		if !ok || h.insertion != r.Insertion {
			c.startRead(r.Name, r.Insertion) // delivers to this session when done
			continue
		}
		go func() {
			select {
			case <-h.done:
			case <-s.ctx.Done():
				return
			}
			if h.err == nil && s.owesHeld(r.Name, h) {
				s.due(r.Name, h)
			}
		}()
	}
}

// owesHeld is owes for a held card, still held.
func (s *counterSession) owesHeld(reader string, h *heldCard) bool {
	s.c.mu.Lock()
	defer s.c.mu.Unlock()
	return s.c.held[reader] == h && s.owes(reader, h.insertion)
}

// SetNonce implements bridge.CounterSession.
func (s *counterSession) SetNonce(nonce string) error {
	s.mu.Lock()
	s.nonce = nonce
	started := s.started
	s.mu.Unlock()
	if !started || !s.app.Attestation {
		return nil
	}
	// A card read while no nonce stood is waiting for this one.
	c := s.c
	c.mu.Lock()
	var waiting []struct {
		reader string
		h      *heldCard
	}
	for reader, h := range c.held {
		select {
		case <-h.done:
		default:
			continue // its read will take the nonce
		}
		if h.err == nil && s.owes(reader, h.insertion) {
			waiting = append(waiting, struct {
				reader string
				h      *heldCard
			}{reader, h})
		}
	}
	c.mu.Unlock()
	for _, w := range waiting {
		if n := s.takeNonce(); n != "" {
			go c.attestLater(w.reader, w.h, s, n)
		}
	}
	return nil
}

// deliver pushes reader's card-read to this session (once per insertion),
// journals its reading proof with the caller, audits the fields released,
// and starts the revocation check when paired.
func (s *counterSession) deliver(reader string, h *heldCard, a attestOutcome) {
	c := s.c
	reading, err := releasedMembers(h.reading, s.app.Fields)
	if err != nil {
		c.log().Error("counter reading", "err", err)
		return
	}
	ev := bridge.CardRead{Reader: reader, Reading: reading, Attestation: a.att}
	if a.err != nil {
		ev.AttestationError = bridge.ErrorOf(a.err)
	}
	// Checked and queued under the lock drop takes: a card-read is never
	// queued after its card's card-removed.
	c.mu.Lock()
	if c.held[reader] != h {
		c.mu.Unlock()
		return // removed meanwhile: card-removed is on its way
	}
	s.mu.Lock()
	if s.had[reader] == h.insertion {
		s.mu.Unlock()
		c.mu.Unlock()
		return
	}
	s.had[reader] = h.insertion
	s.mu.Unlock()
	s.send("card-read", ev)
	c.mu.Unlock()

	fields := slices.Clone(s.app.Fields)
	if a.att != nil {
		fields = append(fields, "attestation")
	}
	info := opInfo{caller: s.caller, op: "counter-read", fields: fields, want: reader}
	if d, err := eidfile.ParseCardData(h.files.CardData); err == nil {
		info.serial = fmt.Sprintf("%X", d.Serial)
	}
	c.b.audit(info, nil)
	if c.b.Proofs != nil {
		// The proof names the caller and what it received: an attestation
		// carries the whole identity file (its bundle), so the SSIN with it
		// (proof.SSINFields), while "identity.surname" alone does not.
		released := slices.Clone(s.app.Fields)
		if a.att != nil {
			released = append(released, "bundle")
		}
		if _, err := c.b.Proofs.Append(c.b.proofOf(h.reading, s.caller, released)); err != nil {
			c.log().Error("reading-proof journal", "err", err)
		}
	}
	if s.app.Revocation {
		go c.revocation(s, reader, h)
	}
}

// revocation checks the authentication certificate after the display
// and reports it as card-revocation.
func (c *Counter) revocation(s *counterSession, reader string, h *heldCard) {
	ev := bridge.CardRevocation{Reader: reader, Status: "none", Detail: "the card has no authentication certificate"}
	auth, _ := eidfile.CertificateDER(h.files.AuthCert)
	ca, _ := eidfile.CertificateDER(h.files.CACert)
	switch {
	case auth == nil:
	case ca == nil:
		ev.Status, ev.Detail = "unavailable", "the card has no CA certificate"
	case c.Revocation == nil:
		ev.Status, ev.Detail = "unavailable", "no revocation checker"
	default:
		ctx, cancel := context.WithTimeout(s.ctx, 15*time.Second)
		ev.Status, ev.Detail = c.Revocation(ctx, auth, ca)
		cancel()
	}
	c.mu.Lock()
	still := c.held[reader] == h
	c.mu.Unlock()
	if still {
		s.send("card-revocation", ev)
	}
}

// releasedMembers is the card-read's reading: the members of the Reading
// JSON the pairing names, identity members one by one when it names them
// so ("identity.surname").
func releasedMembers(r *eidfile.Reading, fields []string) (map[string]json.RawMessage, error) {
	all, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(all, &members); err != nil {
		return nil, err
	}
	out := map[string]json.RawMessage{}
	var idMembers map[string]json.RawMessage
	idPart := map[string]json.RawMessage{}
	for _, f := range fields {
		if m, ok := strings.CutPrefix(f, "identity."); ok {
			if idMembers == nil {
				if err := json.Unmarshal(members["identity"], &idMembers); err != nil {
					return nil, err
				}
			}
			if v, ok := idMembers[m]; ok {
				idPart[m] = v
			}
			continue
		}
		if v, ok := members[f]; ok {
			out[f] = v
		}
	}
	if len(idPart) > 0 {
		b, err := json.Marshal(idPart)
		if err != nil {
			return nil, err
		}
		out["identity"] = b
	}
	return out, nil
}

// CounterJoin implements bridge.CounterBackend on the Backend: pairings
// come from the policy (Counter); without any, every caller is refused.
func (b *Backend) CounterJoin(ctx context.Context, caller bridge.Caller, push func(string, any)) (bridge.CounterSession, *bridge.CounterPairing, error) {
	if b.Counter == nil {
		return nil, nil, fmt.Errorf("%w: no counter application is paired", bridge.ErrConsentDenied)
	}
	return b.Counter.CounterJoin(ctx, caller, push)
}

var _ bridge.CounterBackend = (*Backend)(nil)
