package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/eid-agent/eid-agent/agent"
	"github.com/eid-agent/eid-agent/agent/pinentry"
	"github.com/eid-agent/eid-agent/bridge"
	"github.com/eid-agent/eid-agent/card"
)

// runRun starts the agent: the websocket bridge on loopback, backed by the
// card layer. Configuration files, the built-in virtual card (--simulate),
// the consent window and the audit journal are issue 5's; this is the
// serving core with flags.
func runRun(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("run", stderr)
	var listen, origins, grants multiFlag
	fs.Var(&listen, "listen", "loopback `ADDR:PORT` to serve ws://ADDR:PORT/ws on (repeatable; default 127.0.0.1:8877)")
	fs.Var(&origins, "allow-origin", "allow web pages of `ORIGIN` (exact scheme://host:port; repeatable)")
	fs.Var(&grants, "grant", "pre-approve `ORIGIN=PERMS` (PERMS: comma list of Reading fields card,identity,address,photo,photoSha256,certificates,integrity and authenticate, sign); repeatable")
	devHTTP := fs.Bool("allow-http-loopback-origins", false, "accept http://localhost origins (development only)")
	if st, ok := parseFlags(fs, args); !ok {
		return st
	}
	if len(listen) == 0 {
		listen = multiFlag{"127.0.0.1:8877"}
	}
	consent := bridge.NewMemoryConsent(nil)
	for _, g := range grants {
		subject, perms, ok := strings.Cut(g, "=")
		if !ok {
			fmt.Fprintf(stderr, "eid-agent run: --grant %q: want ORIGIN=PERMS\n", g)
			return exitUsage
		}
		var grant bridge.Grant
		for _, p := range strings.Split(perms, ",") {
			switch p {
			case "authenticate":
				grant.Authenticate = true
			case "sign":
				grant.Sign = true
			case "card", "identity", "address", "photo", "photoSha256", "certificates", "integrity":
				grant.Fields = append(grant.Fields, p)
			default:
				fmt.Fprintf(stderr, "eid-agent run: --grant: unknown permission %q\n", p)
				return exitUsage
			}
		}
		consent.Set(subject, grant)
	}
	trust, err := card.SystemTrustStore()
	if err != nil {
		fmt.Fprintf(stderr, "eid-agent: warning: %v\n", err)
	}
	backend := &agent.Backend{Trust: trust, Version: version}
	if prog, err := pinentry.Find(); err == nil {
		backend.Prompt = (&pinentry.Dialog{Program: prog}).Prompt
	} else {
		fmt.Fprintf(stderr, "eid-agent: warning: %v; operations that need the PIN will fail unless the reader has a PIN pad\n", err)
	}
	srv, err := bridge.New(bridge.Config{
		Listen:                   listen,
		AllowedOrigins:           origins,
		AllowHTTPLoopbackOrigins: *devHTTP,
		Backend:                  backend,
		Consent:                  consent,
		Version:                  version,
	})
	if err != nil {
		return fail(stderr, err)
	}
	if err := srv.Listen(); err != nil {
		return fail(stderr, err)
	}
	for _, a := range srv.Addrs() {
		fmt.Fprintf(stdout, "eid-agent %s listening on ws://%s/ws\n", version, a)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve() }()
	select {
	case err := <-errc:
		return fail(stderr, err)
	case <-ctx.Done():
	}
	// Finish or cancel work in flight, close clients cleanly.
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fail(stderr, err)
	}
	return exitOK
}
