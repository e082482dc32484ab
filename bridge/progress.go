package bridge

import (
	"context"
	"encoding/json"
)

// Progress is a step of a long card operation, pushed to the client as
// {"event": "progress", "data": {"id": <request id>, "step": ..., ...}}.
// Steps are stable words (queued, reading, pin, signing, ...); no personal
// data.
type Progress struct {
	ID      json.RawMessage `json:"id"`
	Step    string          `json:"step"`
	Percent int             `json:"percent,omitempty"` // 0-100 when known
}

type progressKey struct{}

func withProgress(ctx context.Context, f func(Progress)) context.Context {
	return context.WithValue(ctx, progressKey{}, f)
}

// ReportProgress is the hook a Backend calls during a long operation (a
// request waiting for a busy reader reports "queued"); the bridge sends it
// to the client that made the request. Without a bridge request in ctx it
// does nothing.
func ReportProgress(ctx context.Context, step string, percent int) {
	if f, ok := ctx.Value(progressKey{}).(func(Progress)); ok {
		f(Progress{Step: step, Percent: percent})
	}
}
