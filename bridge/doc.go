// Package bridge is the agent's localhost websocket endpoint: the JSON
// protocol of docs/protocol.md, and the checks that keep other web sites,
// other machines and other users of the same machine out of it.
//
// The package owns no card: every operation goes to a Backend, which the
// agent implements (reader queueing, PIN dialogs, progress). The bridge
// decides who may talk (Host, Origin, desktop-app token, same OS user),
// how much (size, rate, connection limits) and what comes back (only the
// fields a caller named and was granted).
package bridge
