package isi

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// openPTY makes a pseudo-terminal pair through /dev/ptmx: the master is
// the virtual scanner's end, the slave path the device the agent opens, a
// real tty with a line discipline, like /dev/ttyACM0.
func openPTY(t *testing.T) (master *os.File, slave string) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("no pseudo-terminals: %v", err)
	}
	fd := int(m.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil { // unlockpt
		t.Fatal(err)
	}
	n, err := unix.IoctlGetUint32(fd, unix.TIOCGPTN) // ptsname
	if err != nil {
		t.Fatal(err)
	}
	return m, fmt.Sprintf("/dev/pts/%d", n)
}

// link points the stable device name at target, atomically, the way udev
// maintains /dev/serial/by-id/... across a replug.
func link(t *testing.T, name, target string) {
	t.Helper()
	tmp := name + ".new"
	os.Remove(tmp)
	if err := os.Symlink(target, tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, name); err != nil {
		t.Fatal(err)
	}
}

func next(t *testing.T, ch <-chan Event) Event {
	t.Helper()
	select {
	case ev, ok := <-ch:
		if !ok {
			t.Fatal("event channel closed")
		}
		return ev
	case <-time.After(5 * time.Second):
		t.Fatal("no event within 5 s")
	}
	return Event{}
}

func wantScan(t *testing.T, ch <-chan Event, want string) {
	t.Helper()
	if ev := next(t, ch); ev.Scan != want || ev.Err != nil {
		t.Fatalf("got %+v, want scan %q", ev, want)
	}
}

// TestSerialScanner drives ReadDevice with a virtual serial scanner on a
// real pty pair: framing, raw mode, an oversized scan, unplug (the master
// closed: the tty hangs up) and replug under the same stable name, and
// cancellation.
func TestSerialScanner(t *testing.T) {
	dir := t.TempDir()
	dev := filepath.Join(dir, "usb-Scanner_ISI-if00")
	master, slave := openPTY(t)
	link(t, dev, slave)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch := ReadDevice(ctx, dev, DeviceOptions{Retry: 50 * time.Millisecond, MaxScan: 64, Baud: 9600})
	if ev := next(t, ch); !ev.Connected {
		t.Fatalf("first event %+v, want Connected", ev)
	}

	// CR, LF and CRLF terminators; a scan split over two writes; blank
	// lines skipped; in raw mode the tty neither echoes nor turns CR into
	// LF, and the control characters of a symbol pass untouched.
	for _, w := range []string{"85073003328\r", "17073003384\n", "]C0120601", "05317\r\n", "\r\n\r\n",
		"[)>\x1e06\x1d98472899765\x1e\x04\r", Garble("85073003328", LayoutQWERTYOnAZERTY) + "\r"} {
		if _, err := master.WriteString(w); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	wantScan(t, ch, "85073003328")
	wantScan(t, ch, "17073003384")
	wantScan(t, ch, "]C012060105317")
	wantScan(t, ch, "[)>\x1e06\x1d98472899765\x1e\x04")
	garbled := next(t, ch)
	if res, err := ParseScan(garbled.Scan); err != nil || res.SSIN.Digits != "85073003328" || res.Layout != LayoutQWERTYOnAZERTY {
		t.Fatalf("garbled scan %q: %v", garbled.Scan, err)
	}

	// A runaway scan is reported once and does not spoil the next one.
	master.WriteString(strings.Repeat("9", 200) + "\r85073003328\r")
	if ev := next(t, ch); !errors.Is(ev.Err, ErrTooLong) {
		t.Fatalf("got %+v, want ErrTooLong", ev)
	}
	wantScan(t, ch, "85073003328")

	// Unplug: the scanner's end goes away.
	master.Close()
	ev := next(t, ch)
	var de *DeviceError
	if !errors.Is(ev.Err, ErrDisconnected) || !errors.As(ev.Err, &de) || de.Path != dev {
		t.Fatalf("after unplug: %+v, want ErrDisconnected", ev)
	}
	if !strings.Contains(ev.Err.Error(), "waiting for it to come back") {
		t.Errorf("message %q", ev.Err)
	}
	// While it is away, the retries are silent: the outage was reported.
	os.Remove(dev)
	select {
	case ev := <-ch:
		t.Fatalf("second event during one outage: %+v", ev)
	case <-time.After(300 * time.Millisecond):
	}

	// Replug: a new tty behind the same name.
	master2, slave2 := openPTY(t)
	defer master2.Close()
	link(t, dev, slave2)
	if ev := next(t, ch); !ev.Connected {
		t.Fatalf("after replug: %+v, want Connected", ev)
	}
	master2.WriteString("12060105346\r")
	wantScan(t, ch, "12060105346")

	// Cancellation interrupts a blocked read and closes the channel.
	cancel()
	select {
	case _, ok := <-ch:
		if ok {
			for range ch {
			}
		}
	case <-time.After(2 * time.Second):
		t.Fatal("ReadDevice did not stop on cancel")
	}
}

func TestSerialNotATerminal(t *testing.T) {
	f := filepath.Join(t.TempDir(), "plain")
	os.WriteFile(f, []byte("85073003328\r"), 0o600)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ev := next(t, ReadDevice(ctx, f, DeviceOptions{}))
	if ev.Err == nil || !strings.Contains(ev.Err.Error(), "not a terminal") {
		t.Fatalf("plain file: %+v", ev)
	}
	ev = next(t, ReadDevice(ctx, filepath.Join(t.TempDir(), "ttyACM9"), DeviceOptions{}))
	var de *DeviceError
	if !errors.As(ev.Err, &de) || de.Op != "open" || !errors.Is(ev.Err, fs.ErrNotExist) {
		t.Fatalf("absent device: %+v", ev)
	}
	_, slave := openPTY(t)
	ev = next(t, ReadDevice(ctx, slave, DeviceOptions{Baud: 12345}))
	if ev.Err == nil || !strings.Contains(ev.Err.Error(), "unsupported speed") {
		t.Fatalf("bad speed: %+v", ev)
	}
}

func TestFramer(t *testing.T) {
	var got []string
	fr := framer{max: 5}
	emit := func(s string, err error) bool {
		if err != nil {
			got = append(got, "ERR")
		} else {
			got = append(got, s)
		}
		return true
	}
	for _, chunk := range []string{"ab", "c\r\nde\n\n", "123456", "78\rxy", "z\r"} {
		fr.feed([]byte(chunk), emit)
	}
	if strings.Join(got, ",") != "abc,de,ERR,xyz" {
		t.Errorf("scans %q", got)
	}
	// emit returning false stops at once.
	n := 0
	f2 := framer{max: 10}
	if f2.feed([]byte("a\rb\rc\r"), func(string, error) bool { n++; return false }) || n != 1 {
		t.Errorf("stop: n=%d", n)
	}
}
