package installer

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Listener is a socket listening on one of the agent's ports, and who
// holds it.
type Listener struct {
	Addr    string // "127.0.0.1:8877", "[::1]:8877", "0.0.0.0:8877", "[::]:8877"
	UID     int
	PID     int    // 0 when not found (another user's process, or no /proc)
	Program string // its command name; "" when unknown
}

// SocketProcess finds the process holding the socket with inode (Linux:
// the /proc/PID/fd links "socket:[INODE]"; only this user's processes
// are visible to a normal user). 0, "" when not found.
func SocketProcess(inode uint64) (pid int, program string) {
	want := "socket:[" + strconv.FormatUint(inode, 10) + "]"
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		n, err := strconv.Atoi(p.Name())
		if err != nil {
			continue
		}
		fds, err := os.ReadDir(filepath.Join("/proc", p.Name(), "fd"))
		if err != nil {
			continue
		}
		for _, fd := range fds {
			if link, err := os.Readlink(filepath.Join("/proc", p.Name(), "fd", fd.Name())); err == nil && link == want {
				comm, _ := os.ReadFile(filepath.Join("/proc", p.Name(), "comm"))
				return n, strings.TrimSpace(string(comm))
			}
		}
	}
	return 0, ""
}
