// Package client is a Go client of the bridge protocol, used by the tests
// and usable by desktop applications.
package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/eid-agent/eid-agent/bridge"
	"github.com/gorilla/websocket"
)

// Auth says how the client identifies itself: a web Origin (what a
// browser would send) or a desktop application token.
type Auth struct {
	Origin string
	Token  string
}

// Event is a server event as received.
type Event struct {
	Event string          `json:"event"`
	Data  json.RawMessage `json:"data"`
}

// HandshakeError is a refused upgrade: the HTTP status and the bridge's
// JSON error.
type HandshakeError struct {
	Status int
	Err    *bridge.Error
}

func (e *HandshakeError) Error() string {
	return fmt.Sprintf("handshake refused: HTTP %d %v", e.Status, e.Err)
}

// Client is one websocket connection. Call is safe for concurrent use.
type Client struct {
	ws      *websocket.Conn
	nextID  atomic.Int64
	wmu     sync.Mutex
	mu      sync.Mutex
	pending map[string]chan response
	events  chan Event
	done    chan struct{}
	err     error
}

type response struct {
	ID     json.RawMessage `json:"id"`
	Result json.RawMessage `json:"result"`
	Error  *bridge.Error   `json:"error"`
}

// Dial connects to url (ws://127.0.0.1:PORT/ws). It does not send hello;
// Hello does.
func Dial(ctx context.Context, url string, auth Auth) (*Client, error) {
	h := http.Header{}
	if auth.Origin != "" {
		h.Set("Origin", auth.Origin)
	}
	if auth.Token != "" {
		h.Set("Authorization", "Bearer "+auth.Token)
	}
	ws, resp, err := websocket.DefaultDialer.DialContext(ctx, url, h)
	if err != nil {
		if resp != nil {
			he := &HandshakeError{Status: resp.StatusCode}
			var body struct {
				Error *bridge.Error `json:"error"`
			}
			if json.NewDecoder(resp.Body).Decode(&body) == nil {
				he.Err = body.Error
			}
			resp.Body.Close()
			return nil, he
		}
		return nil, err
	}
	c := &Client{ws: ws, pending: map[string]chan response{}, events: make(chan Event, 256), done: make(chan struct{})}
	go c.readLoop()
	return c, nil
}

// Events delivers server events; closed when the connection ends.
func (c *Client) Events() <-chan Event { return c.events }

// Done is closed when the connection ends; Err then says why.
func (c *Client) Done() <-chan struct{} { return c.done }

func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

func (c *Client) Close() error { return c.ws.Close() }

func (c *Client) readLoop() {
	defer close(c.events)
	defer close(c.done)
	for {
		_, b, err := c.ws.ReadMessage()
		if err != nil {
			c.mu.Lock()
			c.err = err
			for id, ch := range c.pending {
				close(ch)
				delete(c.pending, id)
			}
			c.mu.Unlock()
			return
		}
		var probe struct {
			Event *string `json:"event"`
		}
		if json.Unmarshal(b, &probe) == nil && probe.Event != nil {
			var ev Event
			if json.Unmarshal(b, &ev) == nil {
				select {
				case c.events <- ev:
				default: // nobody reads events: drop rather than stall replies
				}
			}
			continue
		}
		var r response
		if json.Unmarshal(b, &r) != nil {
			continue
		}
		c.mu.Lock()
		ch, ok := c.pending[string(r.ID)]
		delete(c.pending, string(r.ID))
		c.mu.Unlock()
		if ok {
			ch <- r
		} else if string(r.ID) == "null" {
			// An error about a message without id: hand it to the
			// oldest waiter? No: there is no way to know; expose it.
			c.mu.Lock()
			c.err = r.Error
			c.mu.Unlock()
		}
	}
}

// ErrClosed: the connection ended before the answer came.
var ErrClosed = errors.New("bridge connection closed")

// Call sends a request and waits for its response; result (may be nil)
// receives the "result" member. A protocol error is returned as
// *bridge.Error.
func (c *Client) Call(ctx context.Context, typ string, params, result any) error {
	id := c.nextID.Add(1)
	key := strconv.FormatInt(id, 10)
	ch := make(chan response, 1)
	c.mu.Lock()
	c.pending[key] = ch
	c.mu.Unlock()
	msg := map[string]any{"id": id, "type": typ}
	if params != nil {
		msg["params"] = params
	}
	b, err := json.Marshal(msg)
	if err != nil {
		return err
	}
	if err := c.Send(b); err != nil {
		return err
	}
	select {
	case r, ok := <-ch:
		if !ok {
			return ErrClosed
		}
		if r.Error != nil {
			return r.Error
		}
		if result != nil {
			return json.Unmarshal(r.Result, result)
		}
		return nil
	case <-ctx.Done():
		c.mu.Lock()
		delete(c.pending, key)
		c.mu.Unlock()
		return ctx.Err()
	}
}

// Send writes a raw text message (tests use it for malformed input).
func (c *Client) Send(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.ws.WriteMessage(websocket.TextMessage, b)
}

// Hello does the version handshake.
func (c *Client) Hello(ctx context.Context) (*bridge.HelloResult, error) {
	var r bridge.HelloResult
	if err := c.Call(ctx, "hello", map[string]int{"protocol": bridge.ProtocolVersion}, &r); err != nil {
		return nil, err
	}
	return &r, nil
}
