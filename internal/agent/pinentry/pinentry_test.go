package pinentry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/eid-agent/eid-agent/card"
)

// openPTY opens a pseudo-terminal pair: the test types on the master, the
// pinentry reads the slave as its terminal.
func openPTY(t *testing.T) (master *os.File, slave string) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	return m, fmt.Sprintf("/dev/pts/%d", n)
}

// typeWhenAsked waits for the prompt on the terminal, then types keys.
func typeWhenAsked(t *testing.T, m *os.File, prompt, keys string) <-chan string {
	seen := make(chan string, 1)
	go func() {
		var out bytes.Buffer
		buf := make([]byte, 512)
		m.SetReadDeadline(time.Now().Add(10 * time.Second))
		for !strings.Contains(out.String(), prompt) {
			n, err := m.Read(buf)
			if err != nil {
				seen <- out.String()
				return
			}
			out.Write(buf[:n])
		}
		m.Write([]byte(keys))
		seen <- out.String()
	}()
	return seen
}

// TestDialogPinentryTTY drives the real pinentry-tty program through a
// pseudo-terminal, as a user at a terminal would answer it.
func TestDialogPinentryTTY(t *testing.T) {
	prog, err := exec.LookPath("pinentry-tty")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("pinentry-tty is required in CI (apt-get install pinentry-tty)")
		}
		t.Skip("pinentry-tty not installed")
	}
	m, slave := openPTY(t)
	d := &Dialog{Program: prog, TTY: slave, Timeout: 10 * time.Second}
	screen := typeWhenAsked(t, m, "PIN:", "12%34\r")
	pin, err := d.Prompt(context.Background(), card.PINRequest{Reader: "Virtual PCD 0 00 00", Key: card.KeySigning, Retries: 2})
	shown := <-screen
	if err != nil {
		t.Fatalf("%v (screen: %q)", err, shown)
	}
	if string(pin) != "12%34" {
		t.Errorf("PIN %q", pin)
	}
	if !strings.Contains(shown, "legally binding signature") || !strings.Contains(shown, "2 tries left") || !strings.Contains(shown, "Wrong PIN before") {
		t.Errorf("the dialog did not say what the PIN is for: %q", shown)
	}
}

// TestDialogAssuan runs scripted Assuan servers for the answers a pinentry
// can give: the PIN (escaped), cancel, timeout, a crash.
func TestDialogAssuan(t *testing.T) {
	tests := []struct {
		name   string
		answer string // what the fake pinentry prints after GETPIN
		want   string
		err    error
	}{
		{"pin", `'D 1%252%0A34' OK`, "1%2\n34", nil},
		{"cancel", `'ERR 83886179 Operation cancelled <Pinentry>'`, "", card.ErrPINCancelled},
		{"timeout", `'ERR 83886142 Timeout <Pinentry>'`, "", card.ErrPINTimeout},
		{"crash", ``, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			script := filepath.Join(t.TempDir(), "pinentry")
			body := "#!/bin/sh\necho 'OK Pleased to meet you'\nwhile read cmd rest; do\n case $cmd in\n GETPIN) [ -z \"" + tt.answer + "\" ] && exit 3; printf '%s\\n' " + tt.answer + " ;;\n BYE) echo OK; exit 0 ;;\n *) echo OK ;;\n esac\ndone\n"
			if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
				t.Fatal(err)
			}
			pin, err := (&Dialog{Program: script}).Prompt(context.Background(), card.PINRequest{Key: card.KeyAuthentication, Retries: -1})
			switch {
			case tt.name == "crash":
				if err == nil {
					t.Fatal("a pinentry that exits gave no error")
				}
			case tt.err != nil:
				if !errors.Is(err, tt.err) {
					t.Fatalf("err %v, want %v", err, tt.err)
				}
			default:
				if err != nil || string(pin) != tt.want {
					t.Fatalf("pin %q err %v", pin, err)
				}
			}
		})
	}
}

func TestStdin(t *testing.T) {
	p := Stdin(strings.NewReader("1234\r\n5678"))
	for _, want := range []string{"1234", "5678"} {
		pin, err := p(context.Background(), card.PINRequest{})
		if err != nil || string(pin) != want {
			t.Fatalf("pin %q err %v, want %q", pin, err, want)
		}
	}
	// Input exhausted: cancelled, never a guess.
	if _, err := p(context.Background(), card.PINRequest{}); !errors.Is(err, card.ErrPINCancelled) {
		t.Fatalf("after the input: %v", err)
	}
}

func TestDescription(t *testing.T) {
	tests := []struct {
		req  card.PINRequest
		want []string
	}{
		{card.PINRequest{Key: card.KeyAuthentication, Retries: 3, Purpose: "Log in to https://app.example"}, []string{"Enter the PIN", "https://app.example", "3 tries left"}},
		{card.PINRequest{Key: card.KeySigning, Retries: 1}, []string{"legally binding", "Last try", "blocks the card"}},
		{card.PINRequest{Key: card.KeyAuthentication, Retries: 2, Reader: "R"}, []string{"wrong PIN was entered", "2 tries left"}},
		{card.PINRequest{Key: card.KeyAuthentication, Retries: -1}, []string{"Enter the PIN of the eID card."}},
		{card.PINRequest{Change: true, Reader: "R"}, []string{"current PIN", `"R"`}},
		{card.PINRequest{New: true}, []string{"new PIN (4 to 12 digits)"}},
	}
	for _, tt := range tests {
		got := Description(tt.req)
		for _, w := range tt.want {
			if !strings.Contains(got, w) {
				t.Errorf("%q lacks %q", got, w)
			}
		}
	}
}

// TestConfirmPinentryTTY answers the real pinentry-tty's confirmation
// both ways through a pseudo-terminal.
func TestConfirmPinentryTTY(t *testing.T) {
	prog, err := exec.LookPath("pinentry-tty")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("pinentry-tty is required in CI (apt-get install pinentry-tty)")
		}
		t.Skip("pinentry-tty not installed")
	}
	for _, tt := range []struct {
		key  string
		want bool
	}{{"a", true}, {"d", false}} {
		m, slave := openPTY(t)
		d := &Dialog{Program: prog, TTY: slave, Timeout: 10 * time.Second}
		screen := typeWhenAsked(t, m, "[ad]?", tt.key)
		ok, err := d.Confirm(context.Background(), "https://app.example wants to read your identity.", "_Allow", "_Deny")
		shown := <-screen
		if err != nil || ok != tt.want {
			t.Fatalf("key %q: ok %v err %v (screen %q)", tt.key, ok, err, shown)
		}
		if !strings.Contains(shown, "https://app.example wants to read your identity.") {
			t.Errorf("screen %q", shown)
		}
	}
}

// TestConfirmAssuan: the answers a confirmation can get.
func TestConfirmAssuan(t *testing.T) {
	for _, tt := range []struct {
		answer string
		ok     bool
		err    error
	}{
		{`OK`, true, nil},
		{`'ERR 83886179 Operation cancelled <Pinentry>'`, false, nil},
		{`'ERR 83886194 Not confirmed <Pinentry>'`, false, nil},
		{`'ERR 83886142 Timeout <Pinentry>'`, false, card.ErrPINTimeout},
	} {
		script := filepath.Join(t.TempDir(), "pinentry")
		body := "#!/bin/sh\necho 'OK Pleased to meet you'\nwhile read cmd rest; do\n case $cmd in\n CONFIRM) printf '%s\\n' " + tt.answer + " ;;\n BYE) echo OK; exit 0 ;;\n *) echo OK ;;\n esac\ndone\n"
		if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
		ok, err := (&Dialog{Program: script}).Confirm(context.Background(), "d", "Allow", "Deny")
		if ok != tt.ok || !errors.Is(err, tt.err) {
			t.Errorf("%s: ok %v err %v", tt.answer, ok, err)
		}
	}
}
