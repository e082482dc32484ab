package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/eid-agent/eid-agent/internal/clock"

	"github.com/eid-agent/eid-agent/bridge"
	"github.com/eid-agent/eid-agent/internal/agent/audit"
	"github.com/eid-agent/eid-agent/internal/atomicfile"
)

// AskFunc asks the user, in the agent's own dialog, whether caller may do
// op. It reports the answer; an error (no dialog, timeout) is a refusal.
type AskFunc func(ctx context.Context, caller bridge.Caller, op bridge.Operation) (bool, error)

// Consent is the agent's bridge.Consent: what an administrator
// pre-approved (configuration and policy), plus what the user approved in
// the agent's dialog, remembered in a file the user can list and revoke
// (`eid-agent consent`). The file is read on every decision, so a
// revocation takes effect at once in a running agent.
//
// A refusal is not remembered (the next request asks again) but a site
// the user just refused is not asked again for DenyCooldown, so a page
// cannot pester the user with dialogs.
type Consent struct {
	Admin map[string]bridge.Grant // by subject: origin or "app:NAME"
	// Pages, when set, lists the origins of the agent's own pages (the
	// demo page in simulate mode), which get PagePermissions on top of
	// Admin. A function, not Admin entries, because those origins are
	// known only once the agent listens, after the store is built.
	Pages           func() []string
	PagePermissions []string
	Path            string        // remembered decisions; "" keeps them in memory
	Ask             AskFunc       // nil: refuse whatever is not granted
	DenyCooldown    time.Duration // default 1 minute
	Audit           *audit.Log
	Log             *slog.Logger

	mu      sync.Mutex // guards the file and the maps
	dialog  chan struct{}
	memory  map[string]bridge.Grant
	refused map[string]time.Time
}

var _ bridge.Consent = (*Consent)(nil)

// ErrConsentFile: the remembered-decisions file cannot be used.
var ErrConsentFile = errors.New("consent file")

// consentFile is the on-disk form: subject → what was approved, and when.
type consentFile struct {
	Version int                        `json:"version"`
	Grants  map[string]rememberedGrant `json:"grants"`
}

type rememberedGrant struct {
	Fields       []string  `json:"fields,omitempty"`
	Authenticate bool      `json:"authenticate,omitempty"`
	Sign         bool      `json:"sign,omitempty"`
	Other        []string  `json:"other,omitempty"` // operations of later protocol versions
	Updated      time.Time `json:"updated"`
}

// AdminOnly reports whether only an administrator can grant op: no dialog
// is shown for it and no remembered decision covers it. proofs.list of
// every caller's records is one: the holder in front of the page is not
// the one to hand other applications' reading history to a site.
func AdminOnly(op bridge.Operation) bool { return op.Kind == "proofs-all" }

// Allow implements bridge.Consent.
func (c *Consent) Allow(ctx context.Context, caller bridge.Caller, op bridge.Operation) error {
	subject := caller.String()
	if grants(c.adminGrant(subject), op) {
		return nil
	}
	if AdminOnly(op) {
		return c.deny(subject, op, "only the administrator's policy can grant "+op.Kind)
	}
	if ok, err := c.remembered(subject, op); err != nil || ok {
		return err
	}
	deny := func(why string) error { return c.deny(subject, op, why) }
	if c.Ask == nil {
		return deny("not granted by configuration and no consent dialog is configured")
	}
	// One dialog at a time: a second request waits for the first answer
	// (and is then covered by it, or refused by the cool-down).
	select {
	case c.dialogSlot() <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-c.dialog }()
	if ok, err := c.remembered(subject, op); err != nil || ok {
		return err
	}
	c.mu.Lock()
	until, cooling := c.refused[subject]
	c.mu.Unlock()
	if cooling && time.Now().Before(until) {
		return deny("refused by the user a moment ago")
	}
	ok, err := c.Ask(ctx, caller, op)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil || !ok {
		if c.refused == nil {
			c.refused = map[string]time.Time{}
		}
		cool := c.DenyCooldown
		if cool <= 0 {
			cool = time.Minute
		}
		c.refused[subject] = time.Now().Add(cool)
		if err != nil {
			return deny("the consent dialog failed: " + err.Error())
		}
		return deny("refused by the user")
	}
	delete(c.refused, subject)
	all, err := c.loadLocked()
	if err != nil {
		return err
	}
	g := all[subject]
	g.add(op)
	g.Updated = clock.Now().UTC().Round(time.Second)
	all[subject] = g
	if err := c.saveLocked(all); err != nil {
		// Approved now, but it will be asked again: say so, do not fail.
		c.log().Error("consent not remembered", "err", err)
	}
	c.log().Info("consent given", "caller", subject, "op", op.Kind)
	return nil
}

// adminGrant is what subject may do without asking: the administrator's
// grants, plus PagePermissions when subject is one of the agent's pages.
func (c *Consent) adminGrant(subject string) bridge.Grant {
	g := c.Admin[subject]
	if c.Pages != nil && slices.Contains(c.Pages(), subject) {
		// A copy: appending to the shared Fields could write into Admin's
		// array while another decision reads it.
		g.Fields = slices.Clone(g.Fields)
		g = mergeGrant(g, c.PagePermissions)
	}
	return g
}

// deny logs and audits a refusal and returns its error.
func (c *Consent) deny(subject string, op bridge.Operation, why string) error {
	c.log().Info("consent refused", "caller", subject, "op", op.Kind, "why", why)
	if c.Audit != nil {
		e := audit.Entry{Caller: subject, Operation: op.Kind, Fields: op.Fields, Outcome: string(bridge.CodeConsentDenied)}
		if err := c.Audit.Write(e); err != nil {
			c.log().Error("audit journal write failed", "err", err)
		}
	}
	return fmt.Errorf("%w: %s", bridge.ErrConsentDenied, why)
}

// remembered reports whether a remembered decision covers op.
func (c *Consent) remembered(subject string, op bridge.Operation) (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	all, err := c.loadLocked()
	if err != nil {
		return false, err
	}
	g, ok := all[subject]
	return ok && grants(g.grant(), op), nil
}

func (c *Consent) dialogSlot() chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dialog == nil {
		c.dialog = make(chan struct{}, 1)
	}
	return c.dialog
}

func (c *Consent) log() *slog.Logger {
	if c.Log != nil {
		return c.Log
	}
	return slog.New(slog.DiscardHandler)
}

// grants reports whether g covers op.
func grants(g bridge.Grant, op bridge.Operation) bool {
	switch op.Kind {
	case "read", "reading-proof":
		for _, f := range op.Fields {
			if !slices.Contains(g.Fields, f) {
				return false
			}
		}
		return true
	case "authenticate":
		return g.Authenticate
	case "sign":
		return g.Sign
	case "proofs-all":
		return g.AllProofs
	}
	return false
}

func (r rememberedGrant) grant() bridge.Grant {
	return bridge.Grant{Fields: append(slices.Clone(r.Fields), r.Other...), Authenticate: r.Authenticate, Sign: r.Sign}
}

func (r *rememberedGrant) add(op bridge.Operation) {
	switch op.Kind {
	case "read", "reading-proof":
		// A reading proof's approval is an approval of the fields it gives
		// out (op.Fields holds them all), remembered as such.
		for _, f := range op.Fields {
			if !slices.Contains(r.Fields, f) {
				r.Fields = append(r.Fields, f)
			}
		}
		sort.Strings(r.Fields)
	case "authenticate":
		r.Authenticate = true
	case "sign":
		r.Sign = true
	default:
		if !slices.Contains(r.Other, op.Kind) {
			r.Other = append(r.Other, op.Kind)
		}
	}
}

func (c *Consent) loadLocked() (map[string]rememberedGrant, error) {
	if c.Path == "" {
		if c.memory == nil {
			c.memory = map[string]bridge.Grant{}
		}
		out := map[string]rememberedGrant{}
		for k, g := range c.memory {
			out[k] = rememberedGrant{Fields: g.Fields, Authenticate: g.Authenticate, Sign: g.Sign}
		}
		return out, nil
	}
	return readConsentFile(c.Path)
}

func readConsentFile(path string) (map[string]rememberedGrant, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return map[string]rememberedGrant{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConsentFile, err)
	}
	var f consentFile
	if err := json.Unmarshal(b, &f); err != nil || f.Version != 1 {
		// Refuse rather than guess: a damaged file must not grant more.
		return nil, fmt.Errorf("%w %s is damaged (%v); remove it to start over", ErrConsentFile, path, err)
	}
	if f.Grants == nil {
		f.Grants = map[string]rememberedGrant{}
	}
	return f.Grants, nil
}

func (c *Consent) saveLocked(m map[string]rememberedGrant) error {
	if c.Path == "" {
		c.memory = map[string]bridge.Grant{}
		for k, g := range m {
			c.memory[k] = g.grant()
		}
		return nil
	}
	return writeConsentFile(c.Path, m)
}

// writeConsentFile replaces the file atomically (temp file, sync, rename).
func writeConsentFile(path string, m map[string]rememberedGrant) error {
	b, err := json.MarshalIndent(consentFile{Version: 1, Grants: m}, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return atomicfile.Write(path, append(b, '\n'), 0o600)
}

// ConsentEntry is one remembered decision, for `eid-agent consent list`.
type ConsentEntry struct {
	Subject     string    `json:"subject"`
	Permissions []string  `json:"permissions"`
	Updated     time.Time `json:"updated"`
}

// ListConsent returns the remembered decisions in path, sorted.
func ListConsent(path string) ([]ConsentEntry, error) {
	m, err := readConsentFile(path)
	if err != nil {
		return nil, err
	}
	out := []ConsentEntry{}
	for s, g := range m {
		perms := append(slices.Clone(g.Fields), g.Other...)
		if g.Authenticate {
			perms = append(perms, "authenticate")
		}
		if g.Sign {
			perms = append(perms, "sign")
		}
		out = append(out, ConsentEntry{Subject: s, Permissions: perms, Updated: g.Updated})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Subject < out[j].Subject })
	return out, nil
}

// ErrNotRemembered: there is no remembered decision for the subject.
var ErrNotRemembered = errors.New("no remembered decision")

// RevokeConsent forgets what the user approved for subject ("all" forgets
// everything). Administrator grants stay: they live in the configuration.
func RevokeConsent(path, subject string) error {
	m, err := readConsentFile(path)
	if err != nil {
		return err
	}
	if subject == "all" {
		m = map[string]rememberedGrant{}
	} else {
		if _, ok := m[subject]; !ok {
			return fmt.Errorf("%q: %w", subject, ErrNotRemembered)
		}
		delete(m, subject)
	}
	return writeConsentFile(path, m)
}

// ConsentQuestion is the sentence the consent dialog shows.
func ConsentQuestion(caller bridge.Caller, op bridge.Operation) string {
	who := caller.Origin
	if who == "" {
		who = "The application " + strings.TrimPrefix(caller.String(), "app:")
	} else {
		who = "The web site " + who
	}
	var what string
	switch op.Kind {
	case "read":
		what = "read from your eID card: " + strings.Join(op.Fields, ", ")
	case "reading-proof":
		// op.Fields includes card and identity: the proof gives them out.
		what = "read from your eID card: " + strings.Join(op.Fields, ", ") +
			", and receive a reading proof (your national number, card number and validity dates, the date and time of the reading), also kept in this computer's journal"
	case "authenticate":
		what = "log you in with your eID card (your PIN will be asked)"
	case "sign":
		what = "sign with your eID card (a legally binding signature; your PIN will be asked)"
	default:
		what = op.Kind
	}
	return who + " wants to " + what + ".\n\nAllow it now and in the future? You can revoke this with 'eid-agent consent revoke'."
}
