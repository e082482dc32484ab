//go:build !windows

package isi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"

	"golang.org/x/term"
)

// DeviceOptions configures a serial (or USB-CDC) scanner.
type DeviceOptions struct {
	// Baud sets the line speed (Linux only); 0 leaves it as it is. USB-CDC
	// scanners ignore it; RS-232 ones are usually 9600.
	Baud int
	// Retry is the pause between attempts to open the device while it is
	// absent (unplugged); default one second.
	Retry time.Duration
	// MaxScan bounds one scan; default MaxScanLen.
	MaxScan int
}

// Event is what ReadDevice delivers: a scan, a state change or an error.
type Event struct {
	// Scan is one complete scan (the CR/LF terminator removed), as raw as
	// the scanner sent it: pass it to ParseScan.
	Scan string
	// Connected is set when the device was opened (again).
	Connected bool
	// Err is a *DeviceError (open failure, or ErrDisconnected when the
	// device went away) or, for one oversized scan, a *ScanError with
	// ErrTooLong. Reading goes on after every error.
	Err error
}

// ReadDevice reads scans from the serial scanner at path until ctx ends,
// then closes the channel. The device is put in raw mode (no echo, no line
// editing, no CR/LF translation) and scans are framed by CR, LF or CRLF.
// When the device disappears — a USB scanner unplugged — one event with
// ErrDisconnected is sent and the path is tried again every Retry until it
// comes back (a stable name such as /dev/serial/by-id/... survives the
// replug); a Connected event says it is back. A failure to open is
// reported once per outage, not at every retry.
func ReadDevice(ctx context.Context, path string, opts DeviceOptions) <-chan Event {
	if opts.Retry <= 0 {
		opts.Retry = time.Second
	}
	if opts.MaxScan <= 0 {
		opts.MaxScan = MaxScanLen
	}
	ch := make(chan Event)
	go func() {
		defer close(ch)
		send := func(ev Event) bool {
			select {
			case ch <- ev:
				return true
			case <-ctx.Done():
				return false
			}
		}
		down := false // an outage was already reported
		for ctx.Err() == nil {
			f, err := openSerial(path, opts.Baud)
			if err != nil {
				if !down && !send(Event{Err: &DeviceError{Path: path, Op: "open", Err: err}}) {
					return
				}
				down = true
				if !sleep(ctx, opts.Retry) {
					return
				}
				continue
			}
			down = false
			if !send(Event{Connected: true}) {
				f.Close()
				return
			}
			err = readScans(ctx, f, opts.MaxScan, send)
			f.Close()
			if ctx.Err() != nil {
				return
			}
			if !send(Event{Err: &DeviceError{Path: path, Op: "read", Err: fmt.Errorf("%w (%v)", ErrDisconnected, err)}}) {
				return
			}
			down = true
			if !sleep(ctx, opts.Retry) {
				return
			}
		}
	}()
	return ch
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// openSerial opens a tty without making it the controlling terminal and
// without waiting for a carrier (O_NONBLOCK; Go's poller then makes reads
// block without holding a thread, and lets Close interrupt them), and puts
// it in raw mode.
func openSerial(path string, baud int) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|syscall.O_NOCTTY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	if !term.IsTerminal(int(f.Fd())) {
		f.Close()
		return nil, errors.New("not a terminal device (a serial or USB-CDC scanner is a tty)")
	}
	if _, err := term.MakeRaw(int(f.Fd())); err != nil {
		f.Close()
		return nil, fmt.Errorf("raw mode: %w", err)
	}
	if err := setLine(int(f.Fd()), baud); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// readScans frames scans from f until a read fails or ctx ends; it returns
// the read error.
func readScans(ctx context.Context, f *os.File, max int, send func(Event) bool) error {
	stop := context.AfterFunc(ctx, func() { f.Close() })
	defer stop()
	fr := framer{max: max}
	buf := make([]byte, 4096)
	for {
		n, err := f.Read(buf)
		ok := fr.feed(buf[:n], func(scan string, ferr error) bool {
			if ferr != nil {
				return send(Event{Err: ferr})
			}
			return send(Event{Scan: scan})
		})
		if !ok {
			return ctx.Err()
		}
		if err != nil {
			if err == io.EOF {
				err = errors.New("end of file: hung up")
			}
			return err
		}
	}
}
