package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/eid-agent/eid-agent/bridge"
	"github.com/eid-agent/eid-agent/bridge/client"
	"github.com/eid-agent/eid-agent/internal/agent"
	"github.com/eid-agent/eid-agent/internal/agent/config"
	"github.com/eid-agent/eid-agent/internal/agent/simulator"
)

// The commands that talk to a running agent (status, simulator) connect as
// the local desktop application, with the token the agent keeps in its
// state folder (readable by this user only).

// agentFlags are the flags that find the running agent.
type agentFlags struct {
	config, url, stateDir *string
}

func addAgentFlags(fs interface {
	String(name, value, usage string) *string
}) agentFlags {
	return agentFlags{
		config:   fs.String("config", "", "the agent's configuration `FILE`"),
		url:      fs.String("url", "", "the agent's websocket `URL` (default: from the configuration)"),
		stateDir: fs.String("state-dir", "", "the agent's state `DIR` holding its token (default: from the configuration)"),
	}
}

// dial connects to the running agent and says hello.
func (f agentFlags) dial(ctx context.Context) (*client.Client, error) {
	cfg, err := config.Load(*f.config)
	if err != nil {
		return nil, err
	}
	url := *f.url
	if url == "" {
		url = "ws://" + cfg.Listen[0] + "/ws"
	}
	dir := cfg.StateDir
	if *f.stateDir != "" {
		dir = *f.stateDir
	}
	tok, err := agent.ReadToken(dir)
	if errors.Is(err, agent.ErrUnsafeState) {
		return nil, fmt.Errorf("the agent token is not safe to use: %w", err)
	}
	if err != nil {
		return nil, fmt.Errorf("no agent token (%v): is the agent running as this user? (eid-agent run)", err)
	}
	c, err := client.Dial(ctx, url, client.Auth{Token: tok})
	if err != nil {
		return nil, fmt.Errorf("cannot reach the agent at %s: %w", url, err)
	}
	if _, err := c.Hello(ctx); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func runStatus(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("status", stderr)
	af := addAgentFlags(fs)
	asJSON := fs.Bool("json", false, "print the status as JSON")
	if st, ok := parseFlags(fs, args); !ok {
		return st
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := af.dial(ctx)
	if err != nil {
		return fail(stderr, err)
	}
	defer c.Close()
	var st struct {
		Agent       agent.AgentStatus `json:"agent"`
		Connections int64             `json:"connections"`
	}
	if err := c.Call(ctx, "status", nil, &st); err != nil {
		return fail(stderr, err)
	}
	if *asJSON {
		b, _ := json.MarshalIndent(st, "", "  ")
		fmt.Fprintln(stdout, string(b))
		return exitOK
	}
	a := st.Agent
	mode := "PC/SC"
	if a.Simulate {
		mode = "simulated reader"
	}
	fmt.Fprintf(stdout, "eid-agent %s, pid %d, up since %s (%s)\n", a.Version, a.PID, a.StartedAt.Local().Format(time.DateTime), mode)
	fmt.Fprintf(stdout, "listening on %s; %d client connection(s), %d subscribed\n", strings.Join(a.Listen, ", "), st.Connections, a.Subscribers)
	fmt.Fprintf(stdout, "smart-card service: %s since %s\n", a.Service, a.ServiceSince.Local().Format(time.DateTime))
	if a.ServiceError != "" {
		fmt.Fprintf(stdout, "  cause: %s\n", a.ServiceError)
	}
	if !a.Audit {
		fmt.Fprintln(stdout, "audit journal: off")
	}
	if len(a.Readers) == 0 {
		fmt.Fprintln(stdout, "no reader")
	}
	tw := tabwriter.NewWriter(stdout, 2, 8, 2, ' ', 0)
	for _, r := range a.Readers {
		fmt.Fprintf(tw, "  %s\t%s\tsince %s\n", r.Name, r.Card, r.Since.Local().Format(time.TimeOnly))
	}
	tw.Flush()
	return exitOK
}

func runSimulator(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || (args[0] != "insert" && args[0] != "remove") {
		fmt.Fprintln(stderr, "usage: eid-agent simulator insert [--profile NAME] | remove")
		return exitUsage
	}
	fs := newFlags("simulator "+args[0], stderr)
	af := addAgentFlags(fs)
	profile := fs.String("profile", simulator.DefaultProfile, "card `NAME` ("+strings.Join(simulator.Profiles(), ", ")+")")
	if st, ok := parseFlags(fs, args[1:]); !ok {
		return st
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := af.dial(ctx)
	if err != nil {
		return fail(stderr, err)
	}
	defer c.Close()
	if args[0] == "remove" {
		err = c.Call(ctx, "simulator.remove", nil, nil)
	} else {
		err = c.Call(ctx, "simulator.insert", map[string]string{"profile": *profile}, nil)
	}
	var be *bridge.Error
	if errors.As(err, &be) && be.Code == bridge.CodeUnknownType {
		return fail(stderr, errors.New("the running agent is not in simulate mode (eid-agent run --simulate)"))
	}
	if err != nil {
		return fail(stderr, err)
	}
	if args[0] == "remove" {
		fmt.Fprintln(stdout, "virtual card removed")
	} else {
		fmt.Fprintf(stdout, "virtual %s card inserted\n", *profile)
	}
	return exitOK
}
