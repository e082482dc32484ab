package agent

import (
	"github.com/eid-agent/eid-agent/bridge"
	"github.com/eid-agent/eid-agent/proof"
)

// withCaller is the reading proof of a counter push, made for caller with
// fields. Proof records name their caller from the change that adds
// proof.Record.Caller (and Fields); until this branch has it, the audit
// entry of the push (same moment, same caller, same fields) is what names
// the caller, and this returns rec as made.
func withCaller(rec proof.Record, caller bridge.Caller, fields []string) proof.Record {
	_, _ = caller, fields
	return rec
}
