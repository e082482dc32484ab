package bridge

import (
	"fmt"
	"net/netip"
)

// Holder says whose program holds a port the agent could not listen on.
type Holder int

const (
	// HolderSameUser: a program of this user in this session (often an
	// agent already running).
	HolderSameUser Holder = iota
	// HolderOtherSession: this user's program in another Remote Desktop
	// session (Windows).
	HolderOtherSession
	// HolderOtherUser: another user's program, or one the agent may not
	// look at (on Windows, an elevated process of this user looks the
	// same).
	HolderOtherUser
)

// PortHeldError is a listen that failed because another program listens
// on the address: on a machine where several users are logged in at once
// (a Windows terminal server, Linux remote desktops) it is usually another
// user's agent, and serving beside it is impossible. It wraps the listen
// error and matches ErrOtherUser when the holder is another user's or
// another session's.
type PortHeldError struct {
	Addr    string
	Holder  Holder
	PID     int // 0 when the OS does not tell (Linux gives the uid)
	UID     int // -1 when the OS does not tell (Windows gives the PID)
	Session int // HolderOtherSession: the holder's session
	Err     error
}

func (e *PortHeldError) Error() string {
	who := ""
	if e.PID > 0 {
		who = fmt.Sprintf("process %d", e.PID)
	}
	if e.UID >= 0 {
		who = fmt.Sprintf("uid %d", e.UID)
	}
	const share = "where several users or sessions run at once (a Windows terminal server, remote desktops) each session's agent needs its own port: set `listen` in this user's configuration (docs/installer.md, \"Several sessions on one machine\")"
	switch e.Holder {
	case HolderOtherUser:
		return fmt.Sprintf("%s is held by another user's program (%s), probably that user's eid-agent; this agent does not start beside it. On a machine %s", e.Addr, who, share)
	case HolderOtherSession:
		return fmt.Sprintf("%s is held by your own program in session %d (%s), probably the eid-agent of that session; this agent does not start beside it. On a machine %s", e.Addr, e.Session, who, share)
	}
	return fmt.Sprintf("%s is already in use by another of your programs (%s): is eid-agent already running? (eid-agent status; eid-agent doctor names the port's holder): %v", e.Addr, who, e.Err)
}

func (e *PortHeldError) Unwrap() error { return e.Err }

// Is makes a port held by another user or session match ErrOtherUser.
func (e *PortHeldError) Is(target error) bool {
	return target == ErrOtherUser && e.Holder != HolderSameUser
}

// ExplainListenError turns a failed Listen into a *PortHeldError when one
// of addrs (the addresses it was given) is held by a listening program
// whose owner the OS tells (Linux: /proc/net/tcp; Windows:
// GetExtendedTcpTable and the owner's token; elsewhere nothing is known
// and err comes back as it is, as it does for every other failure).
func ExplainListenError(err error, addrs []string) error {
	if err == nil {
		return nil
	}
	for _, a := range addrs {
		ap, perr := netip.ParseAddrPort(a)
		if perr != nil || ap.Port() == 0 {
			continue
		}
		if h, ok := portHolder(ap); ok {
			h.Addr, h.Err = a, err
			return h
		}
		// Listen holds the other loopback family of the port too
		// (listen.go): its holder is the one to name.
		other := netip.AddrPortFrom(otherLoopback(ap.Addr()), ap.Port())
		if h, ok := portHolder(other); ok {
			h.Addr, h.Err = other.String(), err
			return h
		}
	}
	return err
}
