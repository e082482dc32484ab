// Package agent is the daemon's core: it owns the readers and serves the
// bridge's operations with the card layer. Each reader is used by one
// operation at a time; a second request for a busy reader waits, up to
// QueueTimeout, and never interleaves its APDUs with the first.
package agent
