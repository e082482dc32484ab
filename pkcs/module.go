package pkcs

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/pkcs11"
)

// Options bound how long the package waits for a module, and say where
// the card's own PIN count comes from. Zero fields take the defaults.
type Options struct {
	// CallTimeout bounds one PKCS#11 call (default 30 s: a card signature
	// takes about a second; OpenSC reading a card's certificates the first
	// time a few).
	CallTimeout time.Duration
	// LoginTimeout bounds a login on a PIN-pad reader, where a person types
	// on the reader while the call runs (default 2 min).
	LoginTimeout time.Duration
	// BusyTimeout bounds the wait for a token another operation holds, which
	// includes someone typing a PIN for it (default 3 min).
	BusyTimeout time.Duration
	// CardPINTries reads the PIN tries left from the card in reader when
	// the token's flags do not tell them (see cardTries). Nil asks the card
	// itself through PC/SC (card.Card.PINStatus).
	CardPINTries func(ctx context.Context, reader string) (int, error)
}

func (o Options) withDefaults() Options {
	if o.CallTimeout <= 0 {
		o.CallTimeout = 30 * time.Second
	}
	if o.LoginTimeout <= 0 {
		o.LoginTimeout = 2 * time.Minute
	}
	if o.BusyTimeout <= 0 {
		o.BusyTimeout = 3 * time.Minute
	}
	return o
}

// ModuleInfo is what C_GetInfo says about the module.
type ModuleInfo struct {
	Manufacturer string // "OpenSC Project", "Belgium Government", ...
	Description  string
	Version      string // library version, "0.23"
	Cryptoki     string // PKCS#11 version it implements, "2.20"
}

// Module is one use of a PKCS#11 module. Several Modules of one path share
// the loaded, initialised module (see the package documentation); each
// must be closed.
type Module struct {
	lib    *library
	opts   Options
	disc   Discovery
	closed atomic.Bool
}

// library is a loaded module, shared by every Module of its path.
type library struct {
	key   string // registry key: the real path
	path  string // as first opened, for messages
	ctx   *pkcs11.Ctx
	owned bool // we called C_Initialize, so we call C_Finalize
	info  ModuleInfo

	refs int // Modules open; guarded by registry.mu

	mu      sync.Mutex
	closing bool
	active  int // operations in flight, timed-out calls included
	slots   map[uint]*slot
}

var registry = struct {
	mu   sync.Mutex
	libs map[string]*library
}{libs: map[string]*library{}}

// Open loads and initialises the PKCS#11 module at path, or shares it if
// this process already has it open.
func Open(path string, opts Options) (*Module, error) {
	if path == "" {
		return nil, fmt.Errorf("%w: empty module path", ErrNoModule)
	}
	key, err := realPath(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoModule, err)
	}
	registry.mu.Lock()
	defer registry.mu.Unlock()
	lib := registry.libs[key]
	if lib == nil {
		if lib, err = load(key, path); err != nil {
			return nil, err
		}
		registry.libs[key] = lib
	}
	lib.refs++
	return &Module{
		lib:  lib,
		opts: opts.withDefaults(),
		disc: Discovery{Path: path, Kind: KindConfigured, Tried: []string{path}},
	}, nil
}

// OpenDiscovered runs Discover(configured) and opens the module it picks.
// The Discovery is returned also on error, for the log.
func OpenDiscovered(configured string, opts Options) (*Module, Discovery, error) {
	d, err := Discover(configured)
	if err != nil {
		return nil, d, err
	}
	m, err := Open(d.Path, opts)
	if err != nil {
		return nil, d, err
	}
	m.disc = d
	return m, d, nil
}

// realPath is the registry key: absolute, symlinks resolved.
func realPath(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return "", err
	}
	return real, nil
}

func load(key, path string) (*library, error) {
	if !fileExists(key) {
		return nil, fmt.Errorf("%w: %s is not a file", ErrNoModule, path)
	}
	ctx := pkcs11.New(key)
	if ctx == nil {
		// miekg/pkcs11 hides dlerror(); the usual causes are a missing
		// dependency or a file that is not a PKCS#11 module.
		return nil, fmt.Errorf("%w: cannot load %s (not a PKCS#11 module, or a library it needs is missing)", ErrNoModule, path)
	}
	lib := &library{key: key, path: path, ctx: ctx, owned: true, slots: map[uint]*slot{}}
	if err := ctx.Initialize(); err != nil {
		if !hasCode(err, pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED) {
			ctx.Destroy()
			return nil, fmt.Errorf("%s: %w", path, ckrError("C_Initialize", err))
		}
		lib.owned = false
	}
	if info, err := ctx.GetInfo(); err == nil {
		lib.info = ModuleInfo{
			Manufacturer: info.ManufacturerID,
			Description:  info.LibraryDescription,
			Version:      fmt.Sprintf("%d.%d", info.LibraryVersion.Major, info.LibraryVersion.Minor),
			Cryptoki:     fmt.Sprintf("%d.%d", info.CryptokiVersion.Major, info.CryptokiVersion.Minor),
		}
	}
	return lib, nil
}

// Path is the module path as given to Open (or found by Discover).
func (m *Module) Path() string { return m.lib.path }

// Discovery tells how the module was found; for Open it is the given path
// as KindConfigured.
func (m *Module) Discovery() Discovery { return m.disc }

// Info is the module's C_GetInfo.
func (m *Module) Info() ModuleInfo { return m.lib.info }

// Close releases this Module. The last Close of a module logs out of every
// token, closes the sessions, calls C_Finalize (when this package called
// C_Initialize) and unloads it. Closing twice is harmless. An error means
// the module was left loaded because a timed-out call had still not
// returned.
func (m *Module) Close() error {
	if !m.closed.CompareAndSwap(false, true) {
		return nil
	}
	registry.mu.Lock()
	defer registry.mu.Unlock()
	lib := m.lib
	lib.refs--
	if lib.refs > 0 {
		return nil
	}
	delete(registry.libs, lib.key)
	// Under registry.mu: an Open of the same path waits until C_Finalize is
	// done instead of meeting a half-finalised module.
	return lib.shutdown(m.opts.CallTimeout)
}

// shutdown waits for the operations in flight (at most wait), then ends
// every session and finalises.
func (lib *library) shutdown(wait time.Duration) error {
	lib.mu.Lock()
	lib.closing = true
	lib.mu.Unlock()
	deadline := time.Now().Add(wait)
	for {
		lib.mu.Lock()
		n := lib.active
		lib.mu.Unlock()
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: %d call(s) still running; module left loaded: %w", lib.path, n, ErrBusy)
		}
		time.Sleep(10 * time.Millisecond)
	}
	var errs []error
	for _, s := range lib.slots {
		if s.open {
			// Logging out makes the card forget the PIN: a module may keep
			// the card connected (and verified) after C_Finalize otherwise.
			if s.loggedIn(lib.ctx) {
				_ = lib.ctx.Logout(s.session)
			}
			_ = lib.ctx.CloseSession(s.session)
			s.forget()
		}
	}
	if lib.owned {
		if err := lib.ctx.Finalize(); err != nil {
			errs = append(errs, ckrError("C_Finalize", err))
		}
	}
	lib.ctx.Destroy()
	return errors.Join(errs...)
}

// begin registers an operation in flight; it fails once the module closes.
func (lib *library) begin() error {
	lib.mu.Lock()
	defer lib.mu.Unlock()
	if lib.closing {
		return ErrClosed
	}
	lib.active++
	return nil
}

func (lib *library) end() {
	lib.mu.Lock()
	lib.active--
	lib.mu.Unlock()
}

// slot returns the state of slot id, created on first use.
func (lib *library) slot(id uint) *slot {
	lib.mu.Lock()
	defer lib.mu.Unlock()
	s := lib.slots[id]
	if s == nil {
		s = &slot{id: id, sem: make(chan struct{}, 1)}
		lib.slots[id] = s
	}
	return s
}

// usable fails for a closed Module.
func (m *Module) usable() error {
	if m.closed.Load() {
		return ErrClosed
	}
	return nil
}
