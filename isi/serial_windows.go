package isi

import (
	"context"
	"errors"
	"time"
)

// DeviceOptions configures a serial scanner (see the Unix version).
type DeviceOptions struct {
	Baud    int
	Retry   time.Duration
	MaxScan int
}

// Event is what ReadDevice delivers (see the Unix version).
type Event struct {
	Scan      string
	Connected bool
	Err       error
}

// ReadDevice is not implemented on Windows yet: COM ports need their own
// API. It sends one error and closes the channel.
func ReadDevice(ctx context.Context, path string, opts DeviceOptions) <-chan Event {
	ch := make(chan Event, 1)
	ch <- Event{Err: &DeviceError{Path: path, Op: "open", Err: errors.ErrUnsupported}}
	close(ch)
	return ch
}
