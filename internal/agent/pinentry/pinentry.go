// Package pinentry asks the cardholder for the PIN in a dialog the agent
// controls: a pinentry program (the Assuan protocol GnuPG's dialogs speak),
// a terminal prompt without echo, or one line of standard input for
// scripted counters and tests. It never asks through a web page.
//
// Each function returns a card.PINPrompt. The PIN comes back as a byte
// slice that the caller wipes after use (card.Wipe); the package keeps no
// copy and never logs it.
package pinentry

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/eid-agent/eid-agent/card"
)

// Programs are the pinentry programs looked up on the PATH, in order: the
// desktop ones first, the terminal ones last.
var Programs = []string{"pinentry-gnome3", "pinentry-qt", "pinentry-gtk-2", "pinentry-mac", "pinentry", "pinentry-curses", "pinentry-tty"}

// ErrNoDialog: no way to ask for a PIN is available.
var ErrNoDialog = errors.New("no PIN dialog available (install a pinentry program)")

// Find returns the first pinentry program on the PATH.
func Find() (string, error) {
	for _, p := range Programs {
		if path, err := exec.LookPath(p); err == nil {
			return path, nil
		}
	}
	return "", ErrNoDialog
}

// Dialog runs a pinentry program for each request.
type Dialog struct {
	Program string        // path of the pinentry program
	Timeout time.Duration // how long the user has; 0 means 60 s
	// TTY, when set, is given to terminal pinentries (ttyname option).
	TTY string
	// Title of the dialog window.
	Title string
}

// Prompt implements card.PINPrompt.
func (d *Dialog) Prompt(ctx context.Context, req card.PINRequest) ([]byte, error) {
	setup := []string{
		"SETDESC " + escape(Description(req)),
		"SETPROMPT " + escape(promptLabel(req)),
	}
	if w := retriesWarning(req); w != "" {
		setup = append(setup, "SETERROR "+escape(w))
	}
	data, err := d.run(ctx, setup, "GETPIN")
	if err != nil {
		return nil, err
	}
	pin, err := unescape(data)
	card.Wipe(data)
	if err != nil {
		return nil, err
	}
	return pin, nil
}

// Confirm shows desc with two buttons, ok and cancel, and reports whether
// the user chose ok. Closing the dialog is a no; a timeout is
// card.ErrPINTimeout. The agent asks consent this way: the dialog is its
// own, outside any web page.
func (d *Dialog) Confirm(ctx context.Context, desc, ok, cancel string) (bool, error) {
	_, err := d.run(ctx, []string{
		"SETDESC " + escape(desc),
		"SETOK " + escape(ok),
		"SETCANCEL " + escape(cancel),
	}, "CONFIRM")
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, card.ErrPINCancelled), errors.Is(err, errNotConfirmed):
		return false, nil
	}
	return false, err
}

// run starts the program, sets the title, timeout and tty, sends setup,
// then the final command, and returns its data.
func (d *Dialog) run(ctx context.Context, setup []string, final string) ([]byte, error) {
	timeout := d.Timeout
	if timeout <= 0 {
		timeout = 60 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout+5*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, d.Program)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("pinentry: %w", err)
	}
	defer func() {
		stdin.Close()
		cmd.Wait()
	}()
	s := &session{w: stdin, r: bufio.NewReader(stdout)}
	if _, err := s.response(); err != nil {
		return nil, fmt.Errorf("pinentry greeting: %w", err)
	}
	title := d.Title
	if title == "" {
		title = "Belgian eID"
	}
	cmds := []string{"SETTITLE " + escape(title), "SETTIMEOUT " + strconv.Itoa(int(timeout/time.Second))}
	if d.TTY != "" {
		cmds = append(cmds, "OPTION ttyname="+d.TTY, "OPTION ttytype=dumb")
	}
	for _, c := range append(cmds, setup...) {
		if _, err := s.command(c); err != nil {
			return nil, fmt.Errorf("pinentry %s: %w", strings.Fields(c)[0], err)
		}
	}
	data, err := s.command(final)
	s.send("BYE")
	if err != nil {
		card.Wipe(data)
		return nil, err
	}
	return data, nil
}

// promptLabel is the short label before the input field.
func promptLabel(req card.PINRequest) string {
	switch {
	case req.New:
		return "New PIN:"
	case req.Change:
		return "Current PIN:"
	}
	return "PIN:"
}

// Description is the sentence a dialog shows above the PIN field. It says
// which reader and key, what for, and how many tries are left, so that the
// holder knows what typing the PIN will do.
func Description(req card.PINRequest) string {
	var b strings.Builder
	switch {
	case req.New:
		b.WriteString("Choose a new PIN (4 to 12 digits) for the eID card")
	case req.Change:
		b.WriteString("Enter the current PIN of the eID card")
	case req.Key == card.KeySigning:
		b.WriteString("Enter the PIN to place a legally binding signature with the eID card")
	default:
		b.WriteString("Enter the PIN of the eID card")
	}
	if req.Reader != "" {
		fmt.Fprintf(&b, " in %q", req.Reader)
	}
	b.WriteString(".")
	if req.Purpose != "" {
		fmt.Fprintf(&b, " %s.", strings.TrimSuffix(req.Purpose, "."))
	}
	switch {
	case req.Retries == 1:
		b.WriteString(" Last try: a wrong PIN was entered before, and one more blocks the card (only the municipality can unblock it).")
	case req.Retries > 1 && req.Retries < card.MaxPINTries:
		fmt.Fprintf(&b, " A wrong PIN was entered since the last correct one: %d tries left.", req.Retries)
	case req.Retries > 1:
		fmt.Fprintf(&b, " %d tries left.", req.Retries)
	}
	return b.String()
}

// retriesWarning is the error line a pinentry shows above the field
// (SETERROR) when a wrong PIN was entered since the last correct one: the
// counter resets to card.MaxPINTries on a correct PIN (ref §7.1), so fewer
// tries left means an earlier attempt was wrong. "" otherwise.
func retriesWarning(req card.PINRequest) string {
	switch {
	case req.Retries == 1:
		return "Wrong PIN before: last try left"
	case req.Retries > 1 && req.Retries < card.MaxPINTries:
		return fmt.Sprintf("Wrong PIN before: %d tries left", req.Retries)
	}
	return ""
}

// session speaks the Assuan protocol with one pinentry.
type session struct {
	w io.Writer
	r *bufio.Reader
}

func (s *session) send(line string) error {
	_, err := io.WriteString(s.w, line+"\n")
	return err
}

func (s *session) command(line string) ([]byte, error) {
	if err := s.send(line); err != nil {
		return nil, err
	}
	return s.response()
}

// Assuan error codes pinentry uses (libgpg-error: source 5, codes 62
// timeout, 99 cancelled and 114 not confirmed).
const (
	errTimeout          = 83886142
	errCancelled        = 83886179
	errNotConfirmedCode = 83886194
)

// errNotConfirmed: the user chose the "not ok" answer of CONFIRM.
var errNotConfirmed = errors.New("pinentry: not confirmed")

// response reads lines up to OK or ERR and returns the data lines ("D ...")
// joined, still escaped.
func (s *session) response() ([]byte, error) {
	var data []byte
	for {
		line, err := s.r.ReadSlice('\n')
		if err != nil {
			card.Wipe(data)
			return nil, fmt.Errorf("pinentry closed the connection: %w", err)
		}
		line = line[:len(line)-1]
		switch {
		case len(line) >= 2 && string(line[:2]) == "OK":
			return data, nil
		case len(line) >= 2 && string(line[:2]) == "D ":
			data = append(data, line[2:]...)
			card.Wipe(line) // the reader's buffer held the PIN
		case len(line) >= 3 && string(line[:3]) == "ERR":
			card.Wipe(data)
			fields := strings.Fields(string(line))
			code := 0
			if len(fields) > 1 {
				code, _ = strconv.Atoi(fields[1])
			}
			switch code & 0xFFFF {
			case errCancelled & 0xFFFF:
				return nil, card.ErrPINCancelled
			case errTimeout & 0xFFFF:
				return nil, card.ErrPINTimeout
			case errNotConfirmedCode & 0xFFFF:
				return nil, errNotConfirmed
			}
			return nil, fmt.Errorf("pinentry: %s", line)
		}
		// "S" status and "#" comment lines are ignored.
	}
}

// escape percent-encodes what Assuan cannot carry in a line.
func escape(s string) string {
	r := strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A")
	return r.Replace(s)
}

// unescape decodes an Assuan data line into a fresh slice.
func unescape(b []byte) ([]byte, error) {
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		if b[i] != '%' {
			out = append(out, b[i])
			continue
		}
		if i+2 >= len(b) {
			card.Wipe(out)
			return nil, errors.New("pinentry: bad escape in the answer")
		}
		v, err := strconv.ParseUint(string(b[i+1:i+3]), 16, 8)
		if err != nil {
			card.Wipe(out)
			return nil, errors.New("pinentry: bad escape in the answer")
		}
		out = append(out, byte(v))
		i += 2
	}
	return out, nil
}

// Stdin returns a prompt that reads one line per request from r (the
// CLI's --pin-stdin). End of input is ErrPINCancelled: a script that
// supplied one PIN is never asked a second time.
func Stdin(r io.Reader) card.PINPrompt {
	br := bufio.NewReader(r)
	return func(ctx context.Context, req card.PINRequest) ([]byte, error) {
		line, err := br.ReadSlice('\n')
		if err != nil && (err != io.EOF || len(line) == 0) {
			return nil, fmt.Errorf("%w: no PIN on standard input", card.ErrPINCancelled)
		}
		pin := append([]byte(nil), trimEOL(line)...)
		card.Wipe(line)
		return pin, nil
	}
}

func trimEOL(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

// Terminal returns a prompt on the controlling terminal, without echo.
func Terminal(tty *os.File, out io.Writer) card.PINPrompt {
	return func(ctx context.Context, req card.PINRequest) ([]byte, error) {
		fmt.Fprintf(out, "%s\n%s ", Description(req), promptLabel(req))
		pin, err := readPassword(tty)
		fmt.Fprintln(out)
		if err != nil {
			return nil, err
		}
		return pin, nil
	}
}
