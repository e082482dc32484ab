package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// conn is one client. A read loop decodes and dispatches requests (each
// in its own goroutine, so a long card operation does not stall hello or
// readers). Replies and events are written directly under a mutex with a
// write deadline: no writer goroutine and no queue, so an idle connection
// costs one goroutine, and a client that stops reading blocks only its own
// writers until WriteTimeout, then is disconnected.
type conn struct {
	s      *Server
	ws     *websocket.Conn
	caller Caller
	ctx    context.Context
	cancel context.CancelFunc

	wmu         sync.Mutex // one writer at a time (gorilla's rule)
	wdeadlineAt time.Time  // when the write deadline was last set (under wmu)
	inflight    chan struct{}
	helloOK     bool // read loop only

	closeOnce sync.Once

	subMu      sync.Mutex
	subscribed bool
	wg         sync.WaitGroup
}

func newConn(s *Server, ws *websocket.Conn, caller Caller) *conn {
	ctx, cancel := context.WithCancel(s.ctx)
	return &conn{
		s: s, ws: ws, caller: caller, ctx: ctx, cancel: cancel,
		inflight: make(chan struct{}, s.cfg.Limits.MaxInFlight),
	}
}

func (c *conn) run() {
	lim := c.s.cfg.Limits
	// Past MaxFrameSize gorilla fails the read and we close with 1009;
	// between MaxMessageSize and that, the client gets TOO_LARGE and the
	// connection lives.
	c.ws.SetReadLimit(int64(lim.MaxFrameSize))
	_ = c.ws.SetReadDeadline(time.Now().Add(lim.PongTimeout))
	c.ws.SetPongHandler(func(string) error {
		return c.ws.SetReadDeadline(time.Now().Add(lim.PongTimeout))
	})
	// Pings from a timer, not a goroutine; WriteControl may run
	// concurrently with other writes.
	var ping *time.Timer
	ping = time.AfterFunc(lim.PingInterval, func() {
		if c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(lim.WriteTimeout)) != nil {
			c.shutdown(websocket.CloseNormalClosure, "")
			return
		}
		ping.Reset(lim.PingInterval)
	})
	// Server shutdown: close with 1001.
	stop := context.AfterFunc(c.s.ctx, func() { c.shutdown(websocket.CloseGoingAway, "agent stopping") })
	c.readLoop()
	stop()
	ping.Stop()
	c.cancel()
	c.wg.Wait() // handlers see ctx cancelled and return
	c.ws.Close()
}

// shutdown ends the connection once, with a close frame when possible.
func (c *conn) shutdown(code int, reason string) {
	c.closeOnce.Do(func() {
		c.cancel()
		_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(time.Second))
		// Unblock the read loop even if the peer never answers the close.
		_ = c.ws.SetReadDeadline(time.Now().Add(time.Second))
	})
}

func (c *conn) readLoop() {
	lim := c.s.cfg.Limits
	bucket := newBucket(lim.RequestsPerSec, lim.Burst, time.Now())
	// The idle timer and the read deadline are not touched on every
	// message (timer updates are a measurable share of a small request's
	// cost): the timer re-arms itself from the last activity when it
	// fires, and the deadline is pushed forward at most every 1/16 of
	// PongTimeout.
	var last atomic.Int64
	last.Store(time.Now().UnixNano())
	var idle *time.Timer
	idle = time.AfterFunc(lim.IdleTimeout, func() {
		if left := lim.IdleTimeout - time.Since(time.Unix(0, last.Load())); left > 0 {
			idle.Reset(left)
			return
		}
		c.shutdown(websocket.CloseNormalClosure, "idle")
	})
	defer idle.Stop()
	deadlineAt := time.Now()
	buf := make([]byte, lim.MaxMessageSize+1)
	for {
		typ, r, err := c.ws.NextReader()
		if err != nil {
			if errors.Is(err, websocket.ErrReadLimit) {
				c.shutdown(websocket.CloseMessageTooBig, "frame too large")
			} else {
				c.shutdown(websocket.CloseNormalClosure, "")
			}
			return
		}
		now := time.Now()
		last.Store(now.UnixNano())
		if now.Sub(deadlineAt) > lim.PongTimeout/16 {
			_ = c.ws.SetReadDeadline(now.Add(lim.PongTimeout))
			deadlineAt = now
		}
		n, err := io.ReadFull(r, buf)
		switch {
		case err == nil: // filled MaxMessageSize+1: too large
			if _, err := io.Copy(io.Discard, r); err != nil {
				c.shutdown(websocket.CloseMessageTooBig, "frame too large")
				return
			}
			c.reply(nullID, nil, NewError(CodeTooLarge, ""))
			continue
		case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		default:
			if errors.Is(err, websocket.ErrReadLimit) {
				c.shutdown(websocket.CloseMessageTooBig, "frame too large")
			} else {
				c.shutdown(websocket.CloseNormalClosure, "")
			}
			return
		}
		if typ != websocket.TextMessage {
			c.reply(nullID, nil, NewError(CodeBadRequest, "binary messages are not used"))
			continue
		}
		req, perr := DecodeRequest(buf[:n])
		if perr != nil {
			c.reply(req.ID, nil, perr)
			continue
		}
		if !bucket.allow(time.Now()) {
			c.reply(req.ID, nil, NewError(CodeRateLimited, ""))
			continue
		}
		if req.Type == "hello" {
			// hello is answered in order, before any later request.
			res, herr := c.hello(req)
			if herr == nil {
				c.helloOK = true
			}
			c.reply(req.ID, res, herr)
			continue
		}
		if !c.helloOK {
			c.reply(req.ID, nil, NewError(CodeHelloRequired, ""))
			continue
		}
		h, ok := handlers[req.Type]
		if !ok {
			c.reply(req.ID, nil, NewError(CodeUnknownType, ""))
			continue
		}
		if req.Type == "readers" && c.readersNow(req) {
			continue
		}
		select {
		case c.inflight <- struct{}{}:
		default:
			c.reply(req.ID, nil, NewError(CodeRateLimited, "too many requests in flight"))
			continue
		}
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			defer func() { <-c.inflight }()
			res, herr := c.call(h, req)
			if _, done := res.(alreadyReplied); !done {
				c.reply(req.ID, res, herr)
			}
		}()
	}
}

// call runs a handler, turning a panic in a backend into INTERNAL for this
// request only.
func (c *conn) call(h handler, req *Request) (res any, e *Error) {
	defer func() {
		if p := recover(); p != nil {
			res, e = nil, NewError(CodeInternal, "")
		}
	}()
	ctx := withProgress(c.ctx, func(p Progress) {
		p.ID = req.ID
		c.event("progress", p)
	})
	return h(ctx, c, req)
}

// reply writes a response; after the client is gone it is dropped.
func (c *conn) reply(id json.RawMessage, res any, e *Error) {
	if e == nil && res == nil {
		res = struct{}{}
	}
	b, err := json.Marshal(Response{ID: id, Result: res, Error: e})
	if err != nil {
		b, _ = json.Marshal(Response{ID: id, Error: NewError(CodeInternal, "")})
	}
	c.write(b)
}

func (c *conn) event(name string, data any) {
	b, err := json.Marshal(Event{Event: name, Data: data})
	if err == nil {
		c.write(b)
	}
}

// write sends one message. A client pipelining faster than it reads gets
// backpressure (its read loop waits here); one that stops reading for
// WriteTimeout is disconnected (1008), so it cannot hold memory or
// goroutines, nor slow anyone else.
func (c *conn) write(b []byte) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.ctx.Err() != nil {
		return
	}
	// The deadline moves at most every 1/16 of WriteTimeout: a write
	// still fails after 15/16 of it at the least.
	wt := c.s.cfg.Limits.WriteTimeout
	if now := time.Now(); now.Sub(c.wdeadlineAt) > wt/16 {
		_ = c.ws.SetWriteDeadline(now.Add(wt))
		c.wdeadlineAt = now
	}
	if err := c.ws.WriteMessage(websocket.TextMessage, b); err != nil {
		c.shutdown(websocket.ClosePolicyViolation, "client too slow")
	}
}

// readersNow answers readers from the backend's memory when it can: the
// most frequent request then costs no goroutine and no scheduling delay.
func (c *conn) readersNow(req *Request) bool {
	ir, ok := c.s.cfg.Backend.(InstantReaders)
	if !ok {
		return false
	}
	if e := noParams(req); e != nil {
		c.reply(req.ID, nil, e)
		return true
	}
	rs, ok := ir.ReadersNow()
	if !ok {
		return false
	}
	if rs == nil {
		rs = []ReaderInfo{}
	}
	c.reply(req.ID, ReadersResult{Readers: rs}, nil)
	return true
}
