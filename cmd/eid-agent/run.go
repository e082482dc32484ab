package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/eid-agent/eid-agent/internal/agent"
	"github.com/eid-agent/eid-agent/internal/agent/config"
	"github.com/eid-agent/eid-agent/internal/agent/simulator"
)

// runRun starts the agent: the policy, the configuration file, the
// environment, then these flags (flags win); see
// internal/agent/config/example.toml and docs/daemon.md.
func runRun(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("run", stderr)
	cfgPath := fs.String("config", "", "configuration `FILE` (default "+config.DefaultPath()+")")
	settings := configFlags(fs)
	if st, ok := parseFlags(fs, args); !ok {
		return st
	}
	cfg, err := config.Load(*cfgPath, settings()...)
	if err != nil {
		return failConfig(stderr, err)
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

// configFlags registers the flag of each configuration key that has one
// (config.Keys) and returns what the command line set, for config.Load.
func configFlags(fs *flag.FlagSet) func() []config.Setting {
	values := map[string]func() []string{} // by flag
	keyOf := map[string]string{}           // flag -> key
	for _, k := range config.Keys() {
		if k.Flag == "" {
			continue
		}
		usage := k.Usage
		if k.Name == "simulate_profile" {
			usage += " (" + strings.Join(simulator.Profiles(), ", ") + ")"
		}
		keyOf[k.Flag] = k.Name
		switch k.Kind() {
		case config.Bool:
			v := fs.Bool(k.Flag, false, usage)
			values[k.Flag] = func() []string { return []string{strconv.FormatBool(*v)} }
		case config.List:
			var v multiFlag
			fs.Var(&v, k.Flag, usage)
			values[k.Flag] = func() []string { return v }
		default:
			v := fs.String(k.Flag, "", usage)
			values[k.Flag] = func() []string { return []string{*v} }
		}
	}
	return func() []config.Setting {
		var out []config.Setting
		fs.Visit(func(f *flag.Flag) {
			if get, ok := values[f.Name]; ok {
				for _, v := range get() {
					out = append(out, config.Setting{Key: keyOf[f.Name], Value: v})
				}
			}
		})
		return out
	}
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
