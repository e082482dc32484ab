// Command eid-agent reads Belgian eID cards and lets trusted local
// applications use them. See the README for the commands.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// Exit statuses, documented in the README.
const (
	exitOK        = 0
	exitFailure   = 1 // the operation failed; one line on stderr says why
	exitUsage     = 2
	exitIntegrity = 3 // the card was read and printed, but a check failed
)

// version is stamped at build time (Makefile: -X main.version=...).
var version = "dev"

type command struct {
	summary string
	run     func(args []string, stdout, stderr io.Writer) int
}

// commands is every command of eid-agent, in one place: usage lists them
// sorted by name, run dispatches on the first argument.
var commands = map[string]command{
	"config":    {"check a configuration file (config check [FILE]), print the documented example or the paths", runConfig},
	"consent":   {"list or revoke what you allowed web sites and applications (consent list | revoke ORIGIN|all)", runConsent},
	"doctor":    {"check readers, pcscd, PKCS#11, the service, the port and the configuration; say how to fix each problem", runDoctor},
	"install":   {"start the agent in each session: a systemd user unit, a LaunchAgent or a logon task (--user | --system)", runInstall},
	"isi":       {"take an ISI+ card: a barcode scan, a serial scanner, or typed data (--manual)", runISI},
	"pin":       {"show the PIN tries left (pin status) or change the PIN (pin change)", runPIN},
	"proofs":    {"list, export (JSON lines, CSV) or prune the reading-proof journal", runProofs},
	"read":      {"read the card and print it (text, --json or --xml)", runRead},
	"readers":   {"list the smart-card readers and what each holds", runReaders},
	"run":       {"serve local applications over the loopback websocket bridge", runRun},
	"sign":      {"sign a file or a digest with the card's authentication or signing key", runSign},
	"simulator": {"insert or remove the virtual card of an agent started with --simulate", runSimulator},
	"status":    {"ask the running agent what it sees (readers, cards, clients, version)", runStatus},
	"tls":       {"make (tls init) or show (tls status) the loopback certificate for wss://", runTLS},
	"uninstall": {"remove exactly what install created (configuration too with --purge)", runUninstall},
	"vcard":     {"insert a built-in virtual card into a vpcd virtual reader", runVcard},
	"version":   {"print the version", runVersion},
}

func runVersion(_ []string, stdout, _ io.Writer) int {
	fmt.Fprintln(stdout, "eid-agent", version)
	return exitOK
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "eid-agent: unknown command %q\n", args[0])
		usage(stderr)
		return exitUsage
	}
	return cmd.run(args[1:], stdout, stderr)
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: eid-agent <command> [flags]")
	fmt.Fprintln(w, "\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-8s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'eid-agent <command> -h' for the flags of a command.")
}

// newFlags returns a flag set that reports errors instead of exiting.
func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("eid-agent "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parseFlags parses args and returns the exit status to use when parsing
// failed (ok false).
func parseFlags(fs *flag.FlagSet, args []string) (status int, ok bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK, false
		}
		return exitUsage, false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "%s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		return exitUsage, false
	}
	return 0, true
}

// fail prints the one-line reason of a failure.
func fail(stderr io.Writer, err error) int {
	msg := strings.ReplaceAll(err.Error(), "\n", " ")
	fmt.Fprintf(stderr, "eid-agent: %s\n", msg)
	return exitFailure
}

// multiFlag is a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }
