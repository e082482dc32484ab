package agent

import (
	"context"
	"sync"
	"time"

	"github.com/eid-agent/eid-agent/bridge"
)

// readerQueue serialises operations per reader. A reader's slot is a
// channel of capacity one: holding the token is owning the reader.
type readerQueue struct {
	mu    sync.Mutex
	slots map[string]chan struct{}
}

func (q *readerQueue) slot(reader string) chan struct{} {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.slots == nil {
		q.slots = map[string]chan struct{}{}
	}
	s, ok := q.slots[reader]
	if !ok {
		s = make(chan struct{}, 1)
		q.slots[reader] = s
	}
	return s
}

// acquire waits for the reader, at most timeout; the error is BUSY_TIMEOUT,
// or the context's when the caller went away.
func (q *readerQueue) acquire(ctx context.Context, reader string, timeout time.Duration) (release func(), err error) {
	s := q.slot(reader)
	select {
	case s <- struct{}{}:
		return func() { <-s }, nil
	default:
	}
	// Someone else holds the reader: tell the caller it waits.
	bridge.ReportProgress(ctx, "queued", 0)
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case s <- struct{}{}:
		return func() { <-s }, nil
	case <-t.C:
		return nil, bridge.NewError(bridge.CodeBusyTimeout, "")
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
