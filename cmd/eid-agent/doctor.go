package main

import (
	"context"
	"io"
	"path/filepath"
	"runtime"

	"github.com/eid-agent/eid-agent/bridge"
	"github.com/eid-agent/eid-agent/card"
	"github.com/eid-agent/eid-agent/internal/agent/config"
	"github.com/eid-agent/eid-agent/internal/agent/pinentry"
	"github.com/eid-agent/eid-agent/internal/installer"
	"github.com/eid-agent/eid-agent/internal/loopbackca"
)

// runDoctor is the one command a help desk asks a user to run. Exit 0 when
// every check is OK, 1 otherwise.
func runDoctor(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("doctor", stderr)
	asJSON := fs.Bool("json", false, "print the report as JSON")
	cfgPath := fs.String("config", "", "configuration `FILE` (default: the agent's usual one)")
	if st, ok := parseFlags(fs, args); !ok {
		return st
	}
	ctx := context.Background()
	var info *installer.ConfigInfo
	cfg, cfgErr := config.Load(*cfgPath)
	tlsDir, _ := loopbackca.DefaultDir()
	if cfgErr == nil {
		info = &installer.ConfigInfo{Sources: cfg.Sources, Listen: cfg.Listen, TLSListen: cfg.TLS.Listen,
			Origins: cfg.AllowedOrigins, AllowHTTP: cfg.AllowHTTPLoopbackOrigins}
		if cfg.TLS.Cert != "" {
			tlsDir = filepath.Dir(cfg.TLS.Cert)
		}
	}
	t, _ := scopeFlags{user: new(bool), system: new(bool), root: new(string)}.target(string(filepath.Separator) + "unused")
	p := &installer.Probes{
		OS:             runtime.GOOS,
		Runner:         installer.ExecRunner{},
		Readers:        doctorReaders,
		ErrNoService:   card.ErrNoService,
		ErrNoReader:    card.ErrNoReader,
		PKCS11:         discoverModule,
		Pinentry:       pinentry.Find,
		ValidateOrigin: bridge.ValidateOrigin,
		Listeners:      doctorListeners,
		Target:         t,
		TLSDir:         tlsDir,
	}
	if cfgErr == nil && cfg.PinentryProgram != "" {
		p.Pinentry = func() (string, error) { return cfg.PinentryProgram, nil }
	}
	checks := []installer.Check{
		p.PCSCDCheck(),
		p.ReadersCheck(),
		p.PKCS11Check(),
		p.PinentryCheck(),
		p.ServiceCheck(),
		p.ConfigCheck(info, cfgErr),
		p.AllowListCheck(info, cfgErr),
		p.PortCheck(info),
		p.TLSCheck(),
	}
	var trustRoots []string
	if cfgErr == nil {
		trustRoots = cfg.TrustRoots
	}
	checks = append(checks, trustCheck(trustRoots))
	results := installer.RunChecks(ctx, checks)
	var err error
	if *asJSON {
		err = installer.WriteJSON(stdout, version, runtime.GOOS, results)
	} else {
		err = installer.WriteText(stdout, results)
	}
	if err != nil {
		return fail(stderr, err)
	}
	if !installer.AllOK(results) {
		return exitFailure
	}
	return exitOK
}

// doctorListeners lists who listens on port (Linux), for the port check.
func doctorListeners(port int) ([]installer.Listener, error) {
	socks, err := bridge.ListeningSockets(uint16(port))
	if err != nil {
		return nil, err
	}
	out := make([]installer.Listener, len(socks))
	for i, s := range socks {
		pid, prog := installer.SocketProcess(s.Inode)
		out[i] = installer.Listener{Addr: s.Addr.String(), UID: s.UID, PID: pid, Program: prog}
	}
	return out, nil
}

// doctorReaders lists the readers as the doctor prints them.
func doctorReaders(context.Context) ([]installer.ReaderInfo, error) {
	ctx, err := card.NewContext()
	if err != nil {
		return nil, err
	}
	defer ctx.Release()
	rs, err := ctx.Readers()
	if err != nil {
		return nil, err
	}
	out := make([]installer.ReaderInfo, len(rs))
	for i, r := range rs {
		what := "no card"
		switch r.Kind {
		case card.KindBELPIC:
			what = "Belgian eID"
			if r.AppletVersion != "" {
				what += " " + r.AppletVersion
			}
		case card.KindUnknown:
			what = "unknown card"
		}
		if r.InUse {
			what += ", in use by another program"
		}
		out[i] = installer.ReaderInfo{Name: r.Name, Card: what}
	}
	return out, nil
}
