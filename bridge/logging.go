package bridge

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"
)

// refusalLog logs refused connections and handshakes: the reason and the
// error code, never personal data. A page or a local program can cause
// refusals as fast as it likes, so at most a few lines a second are
// written; the next line says how many were left out.
type refusalLog struct {
	l   *slog.Logger
	now func() time.Time

	mu         sync.Mutex
	b          *bucket
	suppressed int
}

func newRefusalLog(l *slog.Logger) *refusalLog {
	if l == nil {
		l = slog.New(slog.DiscardHandler)
	}
	return &refusalLog{l: l, now: time.Now, b: newBucket(5, 20, time.Now())}
}

func (r *refusalLog) log(msg string, args ...any) {
	r.mu.Lock()
	if !r.b.allow(r.now()) {
		r.suppressed++
		r.mu.Unlock()
		return
	}
	if r.suppressed > 0 {
		args = append(args, "suppressed", r.suppressed)
		r.suppressed = 0
	}
	r.mu.Unlock()
	r.l.Info(msg, args...)
}

// logValue bounds and cleans a caller-chosen string before it is logged:
// control and formatting characters (line breaks, terminal escapes,
// bidirectional overrides) and invalid UTF-8 are written as escapes, so a
// header or parameter cannot forge log lines or hide text, and the result
// is cut to at most n bytes (plus "...") between characters.
func logValue(s string, n int) string {
	var b strings.Builder
	for i, c := range s {
		switch {
		case c == utf8.RuneError && len(s[i:]) > 0 && !validAt(s, i):
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case unicode.IsControl(c) || unicode.Is(unicode.Cf, c):
			q := strconv.QuoteRuneToASCII(c)
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteRune(c)
		}
		if b.Len() > n {
			break
		}
	}
	out := b.String()
	if len(out) > n {
		cut := n
		for cut > 0 && !utf8.RuneStart(out[cut]) {
			cut--
		}
		out = out[:cut] + "..."
	}
	return out
}

// validAt: the rune at s[i] is a real U+FFFD, not an invalid byte.
func validAt(s string, i int) bool {
	r, size := utf8.DecodeRuneInString(s[i:])
	return r != utf8.RuneError || size > 1
}

// httpErrorLog routes net/http's own messages (a TLS handshake that
// failed, a panic in a handler, an accept error) to slog instead of the
// process's standard logger.
type httpErrorLog struct{ l *slog.Logger }

func (h httpErrorLog) Write(p []byte) (int, error) {
	msg := strings.TrimSpace(string(p))
	level := slog.LevelWarn
	if strings.Contains(msg, "TLS handshake error") {
		// Routine: a browser that does not trust the loopback CA yet, a
		// port scanner.
		level = slog.LevelDebug
	}
	h.l.Log(context.Background(), level, "http server", "err", logValue(msg, 300))
	return len(p), nil
}

func newHTTPErrorLog(l *slog.Logger) *log.Logger {
	if l == nil {
		l = slog.New(slog.DiscardHandler)
	}
	return log.New(httpErrorLog{l}, "", 0)
}
