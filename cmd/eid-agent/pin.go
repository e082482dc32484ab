package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/eid-agent/eid-agent/card"
)

func runPIN(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || (args[0] != "status" && args[0] != "change") {
		fmt.Fprintln(stderr, "usage: eid-agent pin status|change [--reader NAME] [--pin-stdin]")
		return exitUsage
	}
	op := args[0]
	fs := newFlags("pin "+op, stderr)
	reader := fs.String("reader", "", "reader `NAME` or number; default: the only reader holding a card")
	pinStdin := fs.Bool("pin-stdin", false, "read the current and the new PIN from standard input, one line each (change)")
	if st, ok := parseFlags(fs, args[1:]); !ok {
		return st
	}
	c, done, err := openCard(*reader)
	if err != nil {
		return fail(stderr, err)
	}
	defer done()

	if op == "status" {
		tries, err := c.PINStatus()
		switch {
		case errors.Is(err, card.ErrPINStatusUnavailable):
			return fail(stderr, fmt.Errorf("%w: an applet 1.1 card counts the question as a wrong try", err))
		case err != nil:
			return fail(stderr, err)
		case tries == 0:
			fmt.Fprintln(stdout, "PIN blocked: the card's municipality can unblock it with the PUK letter")
			return exitFailure
		}
		fmt.Fprintf(stdout, "PIN: %d of %d tries left\n", tries, card.MaxPINTries)
		return exitOK
	}
	prompt, err := pinPrompt(*pinStdin, stderr)
	if err != nil {
		return fail(stderr, err)
	}
	if err := c.ChangePIN(prompt); err != nil {
		return fail(stderr, err)
	}
	fmt.Fprintln(stdout, "PIN changed")
	return exitOK
}
