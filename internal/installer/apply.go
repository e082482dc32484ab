package installer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/eid-agent/eid-agent/internal/clock"

	"github.com/eid-agent/eid-agent/internal/atomicfile"
	"github.com/eid-agent/eid-agent/internal/loopbackca"
)

// Installer applies plans to a machine (or a Target.Root).
type Installer struct {
	// Runner runs the service-manager commands; nil skips them (each is
	// reported as a warning with the command to run by hand).
	Runner Runner
	// TLS options for the loopback CA (Host, Now); zero values use the
	// machine's name and clock.
	TLS loopbackca.Options
}

// Report says what Install or Uninstall did, for the person running it.
type Report struct {
	Written   []string // files created or updated
	Unchanged []string // already as the plan wants them
	Kept      []string // left alone: edited configuration, or not ours
	Removed   []string
	Ran       []string // commands that succeeded
	Warnings  []string // what did not work and how to do it by hand
	Notes     []string
}

// ConflictError: Install would overwrite a file it did not create.
type ConflictError struct{ Path string }

func (e *ConflictError) Error() string {
	return fmt.Sprintf("%v: %s (move it away, or uninstall what installed it)", ErrConflict, e.Path)
}
func (e *ConflictError) Unwrap() error { return ErrConflict }

// CommandError: a required command failed (the files are in place; the
// Report's warnings say what to run by hand).
type CommandError struct {
	Args   []string
	Output string
	Err    error
}

func (e *CommandError) Error() string {
	out := strings.TrimSpace(e.Output)
	if out != "" {
		out = ": " + out
	}
	return fmt.Sprintf("%s: %v%s", strings.Join(e.Args, " "), e.Err, out)
}
func (e *CommandError) Unwrap() error { return e.Err }

// real maps a path of the target system to this process's filesystem.
func (t Target) real(p string) string {
	if t.Root == "" || t.Root == "/" {
		return filepath.FromSlash(p)
	}
	return filepath.Join(t.Root, filepath.FromSlash(p))
}

// dirMode: the XDG base directory spec asks for 0700 on directories
// created in a home; system directories are world-readable.
func (t Target) dirMode() fs.FileMode {
	if t.Scope == User {
		return 0o700
	}
	return 0o755
}

type applier struct {
	t       Target
	m       *Manifest
	r       *Report
	changed bool // a service file was written
}

// ensureDir creates dir and its missing parents, recording each one made.
func (a *applier) ensureDir(dir string) error {
	var missing []string
	for d := dir; ; {
		if _, err := os.Lstat(a.t.real(d)); err == nil {
			break
		} else if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		missing = append(missing, d)
		parent := parentDir(a.t, d)
		if parent == d {
			break
		}
		d = parent
	}
	for i := len(missing) - 1; i >= 0; i-- {
		if err := os.Mkdir(a.t.real(missing[i]), a.t.dirMode()); err != nil {
			return err
		}
		a.m.addDir(missing[i])
	}
	return nil
}

func parentDir(t Target, p string) string {
	if t.OS == "windows" {
		i := strings.LastIndexByte(p, '\\')
		if i <= 2 { // C:\
			return p
		}
		return p[:i]
	}
	return filepath.ToSlash(filepath.Dir(filepath.FromSlash(p)))
}

func (a *applier) file(f File) error {
	ours := a.m.file(f.Path) != nil
	old, err := os.ReadFile(a.t.real(f.Path))
	switch {
	case err == nil && bytes.Equal(old, f.Data):
		a.r.Unchanged = append(a.r.Unchanged, f.Path)
		return nil
	case err == nil && f.Kind == KindConfig:
		// Configuration is the administrator's or user's once written.
		a.r.Kept = append(a.r.Kept, f.Path)
		return nil
	case err == nil && !ours:
		return &ConflictError{f.Path}
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return err
	}
	if err := a.ensureDir(parentDir(a.t, f.Path)); err != nil {
		return err
	}
	if err := writeFile(a.t.real(f.Path), f.Data, f.Mode); err != nil {
		return err
	}
	a.m.addFile(f.Path, f.Kind)
	a.r.Written = append(a.r.Written, f.Path)
	if f.Kind == KindService {
		a.changed = true
	}
	return nil
}

func writeFile(path string, data []byte, mode fs.FileMode) error {
	return atomicfile.Write(path, data, mode)
}

func (in *Installer) run(ctx context.Context, r *Report, cmds []Command, changed bool) error {
	var failed error
	for _, c := range cmds {
		if c.IfChanged && !changed {
			continue
		}
		line := strings.Join(c.Args, " ")
		if in.Runner == nil {
			r.Warnings = append(r.Warnings, "not run (no command runner): "+line)
			continue
		}
		out, err := in.Runner.Run(ctx, c.Args)
		if err == nil {
			r.Ran = append(r.Ran, line)
			continue
		}
		ce := &CommandError{Args: c.Args, Output: string(out), Err: err}
		if c.Optional {
			r.Warnings = append(r.Warnings, ce.Error()+" (later, in the user's session: "+line+")")
			continue
		}
		r.Warnings = append(r.Warnings, ce.Error()+" (run by hand: "+line+")")
		if failed == nil {
			failed = ce
		}
	}
	return failed
}

func (in *Installer) loadManifest(t Target, l Layout) (*Manifest, error) {
	data, err := os.ReadFile(t.real(l.Manifest))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w (no manifest at %s)", ErrNotInstalled, l.Manifest)
	}
	if err != nil {
		return nil, err
	}
	return parseManifest(data, t)
}

// Install applies p: writes its files (keeping configuration that is
// already there), makes the loopback TLS material when asked, records all
// it created in the manifest, then runs the activation commands. Running
// it again with the same plan writes nothing. A required command that
// fails returns a *CommandError after everything else was done.
func (in *Installer) Install(ctx context.Context, p *Plan, opts Options) (*Report, error) {
	t, l := p.Target, p.Layout
	r := &Report{Notes: append([]string(nil), p.Notes...)}
	m, err := in.loadManifest(t, l)
	if errors.Is(err, ErrNotInstalled) {
		m, err = &Manifest{Version: manifestVersion, OS: t.OS, Scope: t.Scope}, nil
	}
	if err != nil {
		return r, err
	}
	var oldManifest []byte
	if m.Binary != "" {
		oldManifest = m.marshal()
	}
	m.Binary = t.Binary
	a := &applier{t: t, m: m, r: r}
	// Check every service file for conflicts before writing anything.
	for _, f := range p.Files {
		if f.Kind == KindConfig || m.file(f.Path) != nil {
			continue
		}
		if old, err := os.ReadFile(t.real(f.Path)); err == nil && !bytes.Equal(old, f.Data) {
			return r, &ConflictError{f.Path}
		}
	}
	for _, f := range p.Files {
		if err := a.file(f); err != nil {
			return r, err
		}
	}
	activate := p.Activate
	m.Deactivate = addCommands(m.Deactivate, p.Deactivate...)
	m.Cleanup = addCommands(m.Cleanup, p.Cleanup...)
	if opts.TLS {
		add, err := in.tls(a, p, opts.Trust)
		if err != nil {
			return r, err
		}
		activate = append(activate, add...)
	}
	// The manifest's own directory is recorded before the manifest is
	// serialised, so that it lists itself.
	if err := a.ensureDir(parentDir(t, l.Manifest)); err != nil {
		return r, err
	}
	if data := m.marshal(); !bytes.Equal(data, oldManifest) {
		if err := writeFile(t.real(l.Manifest), data, 0o644); err != nil {
			return r, err
		}
	}
	return r, in.run(ctx, r, activate, a.changed)
}

// tls makes the loopback TLS material unless a valid set is there, and
// returns the trust commands to run.
func (in *Installer) tls(a *applier, p *Plan, trust bool) ([]Command, error) {
	dir := p.Layout.TLSDir
	now := in.TLS.Now
	if now.IsZero() {
		now = clock.Now()
	}
	mat, err := loopbackca.Load(a.t.real(dir), now)
	switch {
	case err == nil:
		a.r.Unchanged = append(a.r.Unchanged, dir)
	case errors.Is(err, loopbackca.ErrNotInitialized):
		for _, n := range []string{loopbackca.CAFile, loopbackca.CertFile, loopbackca.KeyFile} {
			if _, err := os.Lstat(a.t.real(a.t.join(dir, n))); err == nil {
				a.r.Warnings = append(a.r.Warnings, "incomplete loopback TLS material in "+dir+" left alone; replace it with: eid-agent tls init --force")
				return nil, nil
			}
		}
		b, err := loopbackca.Generate(in.TLS)
		if err != nil {
			return nil, err
		}
		if err := a.ensureDir(dir); err != nil {
			return nil, err
		}
		for _, f := range b.Files() {
			if err := a.file(File{a.t.join(dir, f.Name), f.Data, f.Mode, KindConfig}); err != nil {
				return nil, err
			}
		}
		mat = &loopbackca.Material{CA: b.CA}
	default:
		a.r.Warnings = append(a.r.Warnings, fmt.Sprintf("loopback TLS material in %s left alone: %v", dir, err))
		return nil, nil
	}
	if !trust {
		a.r.Notes = append(a.r.Notes, "to use wss:// (Safari), trust "+a.t.join(dir, loopbackca.CAFile)+" (docs/installer.md) or install again with --trust")
		return nil, nil
	}
	add, remove := p.trustCommands(a.t.join(dir, loopbackca.CAFile), mat.CA.Subject.CommonName, fmt.Sprintf("%x", mat.CA.SerialNumber))
	a.m.Deactivate = addCommands(a.m.Deactivate, remove...)
	return add, nil
}

// Uninstall undoes the install recorded for t: runs the recorded
// deactivation commands, removes the files and directories the install
// created (configuration only with purge; a directory only when empty),
// removes the manifest, and runs the recorded cleanup commands.
// ErrNotInstalled when there is no manifest.
func (in *Installer) Uninstall(ctx context.Context, t Target, purge bool) (*Report, error) {
	r := &Report{}
	l, err := t.Layout()
	if err != nil {
		return r, err
	}
	m, err := in.loadManifest(t, l)
	if err != nil {
		return r, err
	}
	failed := in.run(ctx, r, m.Deactivate, true)
	for _, f := range m.Files {
		if f.Kind == KindConfig && !purge {
			if _, err := os.Lstat(t.real(f.Path)); err == nil {
				r.Kept = append(r.Kept, f.Path)
			}
			continue
		}
		if err := os.Remove(t.real(f.Path)); err == nil {
			r.Removed = append(r.Removed, f.Path)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return r, err
		}
	}
	if err := os.Remove(t.real(l.Manifest)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return r, err
	}
	for i := len(m.Dirs) - 1; i >= 0; i-- {
		// Not empty (kept configuration, the user's own files): stays.
		if os.Remove(t.real(m.Dirs[i])) == nil {
			r.Removed = append(r.Removed, m.Dirs[i])
		}
	}
	if err := in.run(ctx, r, m.Cleanup, true); err != nil && failed == nil {
		failed = err
	}
	return r, failed
}
