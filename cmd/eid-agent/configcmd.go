package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/eid-agent/eid-agent/internal/agent"
	"github.com/eid-agent/eid-agent/internal/agent/config"
)

func runConfig(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: eid-agent config check [FILE] | example | paths")
		return exitUsage
	}
	switch args[0] {
	case "example":
		stdout.Write(config.Example)
		return exitOK
	case "paths":
		fmt.Fprintf(stdout, "configuration: %s\npolicy:        %s\nstate:         %s\n", config.DefaultPath(), config.PolicyPath(), config.DefaultStateDir())
		return exitOK
	case "check":
		path := config.DefaultPath()
		if len(args) > 1 {
			path = args[1]
		} else if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			fmt.Fprintf(stdout, "no configuration file at %s: the defaults apply (eid-agent config example)\n", path)
			return exitOK
		}
		_, err := config.Check(path)
		var ce *config.Error
		switch {
		case errors.As(err, &ce):
			for _, p := range ce.Problems {
				fmt.Fprintln(stderr, p)
			}
			fmt.Fprintf(stderr, "%d problem(s); `eid-agent config example` shows every key with its default\n", len(ce.Problems))
			return exitFailure
		case err != nil:
			return fail(stderr, err)
		}
		// The policy file is checked too when it is there: it applies to
		// every run.
		if _, err := os.Stat(config.PolicyPath()); err == nil && !config.IsPolicyFile(path) {
			if _, err := config.Load(path); err != nil {
				fmt.Fprintln(stderr, err)
				return exitFailure
			}
		}
		fmt.Fprintf(stdout, "%s: OK\n", path)
		return exitOK
	}
	fmt.Fprintf(stderr, "eid-agent config: unknown subcommand %q\n", args[0])
	return exitUsage
}

func runConsent(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || (args[0] != "list" && args[0] != "revoke") || (args[0] == "revoke" && len(args) < 2) {
		fmt.Fprintln(stderr, "usage: eid-agent consent list | revoke ORIGIN|app:NAME|all [--config FILE]")
		return exitUsage
	}
	fs := newFlags("consent", stderr)
	cfgPath := fs.String("config", "", "the agent's configuration `FILE`")
	rest := args[1:]
	if args[0] == "revoke" {
		rest = args[2:]
	}
	if st, ok := parseFlags(fs, rest); !ok {
		return st
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		return failConfig(stderr, err)
	}
	path := cfg.StateDir + string(os.PathSeparator) + "consent.json"
	if args[0] == "revoke" {
		if err := agent.RevokeConsent(path, args[1]); err != nil {
			return fail(stderr, err)
		}
		fmt.Fprintf(stdout, "revoked: %s (administrator grants in the configuration stay)\n", args[1])
		return exitOK
	}
	list, err := agent.ListConsent(path)
	if err != nil {
		return fail(stderr, err)
	}
	if len(list) == 0 {
		fmt.Fprintln(stdout, "nothing allowed yet")
	}
	tw := tabwriter.NewWriter(stdout, 2, 8, 2, ' ', 0)
	for _, e := range list {
		fmt.Fprintf(tw, "%s\t%v\t%s\n", e.Subject, e.Permissions, e.Updated.Local().Format(time.DateTime))
	}
	tw.Flush()
	for _, g := range cfg.Grants {
		fmt.Fprintf(stdout, "administrator grant: %s %v\n", g.Origin, g.Permissions)
	}
	return exitOK
}
