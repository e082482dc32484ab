package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/eid-agent/eid-agent/internal/agent"
	"github.com/eid-agent/eid-agent/internal/agent/config"
	"github.com/eid-agent/eid-agent/internal/agent/simulator"
)

// runRun starts the agent: the configuration file, then the environment,
// then these flags (flags win); see internal/agent/config/example.toml.
func runRun(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("run", stderr)
	cfgPath := fs.String("config", "", "configuration `FILE` (default "+config.DefaultPath()+")")
	var listen, origins, grants, roots multiFlag
	fs.Var(&listen, "listen", "loopback `ADDR:PORT` to serve ws://ADDR:PORT/ws and the demo page on (repeatable; default 127.0.0.1:8877)")
	fs.Var(&origins, "allow-origin", "allow web pages of `ORIGIN` (exact scheme://host:port; repeatable)")
	fs.Var(&grants, "grant", "pre-approve `ORIGIN=PERMS` (PERMS: comma list of "+strings.Join(config.Permissions, ",")+"); repeatable")
	fs.Var(&roots, "trust-root", "also trust the root certificate in `FILE.pem` (repeatable)")
	devHTTP := fs.Bool("allow-http-loopback-origins", false, "accept http://localhost origins (development only)")
	simulate := fs.Bool("simulate", false, "serve the built-in virtual reader and card instead of PC/SC")
	profile := fs.String("profile", "", "the virtual card `NAME` inserted at start with --simulate ("+strings.Join(simulator.Profiles(), ", ")+")")
	logLevel := fs.String("log-level", "", "debug, info, warn or error")
	logFormat := fs.String("log-format", "", "text, json or auto")
	stateDir := fs.String("state-dir", "", "where consent, audit journal and token are kept (default "+config.DefaultStateDir()+")")
	if st, ok := parseFlags(fs, args); !ok {
		return st
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		return failConfig(stderr, err)
	}
	// Flags override the file and the environment.
	if len(listen) > 0 {
		cfg.Listen = listen
	}
	cfg.AllowedOrigins = append(cfg.AllowedOrigins, origins...)
	cfg.TrustRoots = append(cfg.TrustRoots, roots...)
	if *devHTTP {
		cfg.AllowHTTPLoopbackOrigins = true
	}
	if *simulate {
		cfg.Simulate = true
	}
	if *profile != "" {
		cfg.SimulateProfile = *profile
	}
	if *logLevel != "" {
		cfg.LogLevel = *logLevel
	}
	if *logFormat != "" {
		cfg.LogFormat = *logFormat
	}
	if *stateDir != "" {
		cfg.StateDir = *stateDir
		cfg.Audit.Path = filepath.Join(cfg.StateDir, "audit.jsonl")
		cfg.Journal.Path = filepath.Join(cfg.StateDir, "proofs.jsonl")
	}
	for _, g := range grants {
		subject, perms, ok := strings.Cut(g, "=")
		if !ok {
			fmt.Fprintf(stderr, "eid-agent run: --grant %q: want ORIGIN=PERMS\n", g)
			return exitUsage
		}
		cfg.Grants = append(cfg.Grants, config.Grant{Origin: subject, Permissions: strings.Split(perms, ",")})
	}
	if ps := cfg.Validate("flags"); len(ps) > 0 {
		return failConfig(stderr, &config.Error{Problems: ps})
	}
	log := newLogger(stderr, cfg.LogLevel, cfg.LogFormat)
	d := &agent.Daemon{Config: cfg, Version: version, Log: log, Pages: pages}
	if err := d.Start(); err != nil {
		return fail(stderr, err)
	}
	for _, a := range d.Addrs() {
		fmt.Fprintf(stdout, "eid-agent %s listening on ws://%s/ws\n", version, a)
		fmt.Fprintf(stdout, "demo page: http://%s/\n", a)
	}
	for _, a := range d.TLSAddrs() {
		fmt.Fprintf(stdout, "eid-agent %s listening on wss://%s/ws\n", version, a)
	}
	if cfg.Simulate {
		fmt.Fprintf(stdout, "simulate mode: virtual reader %q holds a %s card (PIN %s)\n", simulator.ReaderName, cfg.SimulateProfile, "1234")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := d.Serve(ctx, 10*time.Second); err != nil {
		return fail(stderr, err)
	}
	return exitOK
}

// failConfig prints every configuration problem, one per line.
func failConfig(stderr io.Writer, err error) int {
	var ce *config.Error
	if errors.As(err, &ce) {
		for _, p := range ce.Problems {
			fmt.Fprintf(stderr, "eid-agent: %s\n", p)
		}
		return exitUsage
	}
	return fail(stderr, err)
}

// newLogger logs to stderr: text on a terminal, JSON otherwise (journald
// and log collectors keep one JSON object per entry), unless told.
func newLogger(w io.Writer, level, format string) *slog.Logger {
	var lv slog.Level
	switch level {
	case "debug":
		lv = slog.LevelDebug
	case "warn":
		lv = slog.LevelWarn
	case "error":
		lv = slog.LevelError
	}
	if format == "" || format == "auto" {
		format = "json"
		if f, ok := w.(*os.File); ok {
			if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
				format = "text"
			}
		}
	}
	opts := &slog.HandlerOptions{Level: lv}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
