package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/eid-agent/eid-agent/internal/lab"
)

// Some attacks come from another OS user of the same machine (a terminal
// server, a shared workstation). The tests run as root in CI and play that
// user with a copy of this test binary run as "nobody": EID_TEST_HELPER
// names what it does, and TestMain runs it instead of the tests.

const helperEnv = "EID_TEST_HELPER"

// runHelper is the other user's side. Modes (arguments in EID_TEST_ARGS,
// separated by spaces):
//
//	whoami               print "uid N"
//	listen ADDR          bind ADDR and serve a page pretending to be the
//	                     agent's; print "listening" or "error: ..."; run
//	                     until stdin closes
//	get URL              GET without following redirects: "status N" or "error: ..."
//	post URL             POST {} as JSON: idem
//	dial URL ORIGIN      websocket upgrade: "status N" or "error: ..."
//	flood ADDR N         open N connections sending a body that never ends;
//	                     print "closed C refused R other O of N" once the
//	                     server has dealt with each (closed: no byte back;
//	                     refused: a 403 OTHER_USER; other: anything else)
func runHelper(mode string) int {
	args := strings.Fields(os.Getenv("EID_TEST_ARGS"))
	switch mode {
	case "listen":
		l, err := net.Listen("tcp", args[0])
		if err != nil {
			fmt.Println("error:", err)
			return 0
		}
		fmt.Println("listening")
		go http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, "<!doctype html><title>eid-agent demo</title><p>impostor page")
		}))
		io.Copy(io.Discard, os.Stdin)
		return 0
	case "whoami":
		fmt.Println("uid", os.Getuid())
		return 0
	case "get", "post":
		c := &http.Client{Timeout: 20 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		var resp *http.Response
		var err error
		if mode == "get" {
			resp, err = c.Get(args[0])
		} else {
			resp, err = c.Post(args[0], "application/json", strings.NewReader("{}"))
		}
		if err != nil {
			fmt.Println("error:", err)
			return 0
		}
		fmt.Println("status", resp.StatusCode, errorCode(resp.Body))
		resp.Body.Close()
		return 0
	case "dial":
		d := websocket.Dialer{HandshakeTimeout: 20 * time.Second}
		ws, resp, err := d.Dial(args[0], http.Header{"Origin": {args[1]}})
		switch {
		case err == nil:
			ws.Close()
			fmt.Println("status 101")
		case resp != nil:
			fmt.Println("status", resp.StatusCode, errorCode(resp.Body))
		default:
			fmt.Println("error:", err)
		}
		return 0
	case "flood":
		n, _ := strconv.Atoi(args[1])
		var mu sync.Mutex
		var wg sync.WaitGroup
		closed, refused, other := 0, 0, 0
		for range n {
			c, err := net.Dial("tcp", args[0])
			if err != nil {
				mu.Lock()
				closed++ // refused outright counts as not served
				mu.Unlock()
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				fmt.Fprintf(c, "POST /demo/nonce HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{", args[0])
				c.SetReadDeadline(time.Now().Add(60 * time.Second))
				b, _ := io.ReadAll(c)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case len(b) == 0:
					closed++
				case strings.HasPrefix(string(b), "HTTP/1.1 403 ") && strings.Contains(string(b), `"code":"OTHER_USER"`):
					refused++
				default:
					other++
				}
			}()
		}
		wg.Wait()
		fmt.Printf("closed %d refused %d other %d of %d\n", closed, refused, other, n)
		return 0
	}
	fmt.Println("error: unknown helper mode", mode)
	return 2
}

// errorCode is the code of a JSON refusal body ("" for anything else).
func errorCode(r io.Reader) string {
	var body struct {
		Error struct{ Code string } `json:"error"`
	}
	json.NewDecoder(io.LimitReader(r, 64<<10)).Decode(&body)
	return body.Error.Code
}

var (
	helperOnce sync.Once
	helperBin  string
	helperErr  error
)

// otherUser is a process of another OS user ("nobody") running the helper.
type otherUser struct {
	t   *testing.T
	cmd *exec.Cmd
	out *bufio.Reader
	in  io.WriteCloser
}

// asOtherUser starts the helper as nobody. It needs root: as another user
// the test cannot make a process of a third one.
func asOtherUser(t *testing.T, mode string, args ...string) *otherUser {
	t.Helper()
	if os.Getuid() != 0 {
		lab.Require(t, "acting as another OS user needs root (CI runs the tests as root)")
	}
	u, err := user.Lookup("nobody")
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	helperOnce.Do(func() {
		// The test binary lives in a folder only root may enter: copy it
		// where nobody can run it.
		dir, err := os.MkdirTemp("", "eid-agent-other-user")
		if err == nil {
			err = os.Chmod(dir, 0o755)
		}
		if err != nil {
			helperErr = err
			return
		}
		helperBin = filepath.Join(dir, "helper.test")
		b, err := os.ReadFile(os.Args[0])
		if err == nil {
			err = os.WriteFile(helperBin, b, 0o755)
		}
		helperErr = err
	})
	if helperErr != nil {
		t.Fatal(helperErr)
	}
	cmd := exec.Command(helperBin)
	cmd.Dir = "/"
	cmd.Env = []string{helperEnv + "=" + mode, "EID_TEST_ARGS=" + strings.Join(args, " "), "PATH=/usr/bin:/bin"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}}
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	o := &otherUser{t: t, cmd: cmd, out: bufio.NewReader(out), in: in}
	t.Cleanup(o.stop)
	return o
}

// line returns the helper's next line of output.
func (o *otherUser) line() string {
	o.t.Helper()
	type res struct {
		s   string
		err error
	}
	ch := make(chan res, 1)
	go func() {
		s, err := o.out.ReadString('\n')
		ch <- res{strings.TrimSpace(s), err}
	}()
	select {
	case r := <-ch:
		if r.err != nil && r.s == "" {
			o.t.Fatalf("helper ended without an answer: %v", r.err)
		}
		return r.s
	case <-time.After(2 * time.Minute):
		o.t.Fatal("helper gave no answer")
		return ""
	}
}

func (o *otherUser) stop() {
	o.in.Close()
	done := make(chan struct{})
	go func() { o.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		o.cmd.Process.Kill()
		<-done
	}
}

// otherUserSays runs a one-shot helper and returns its answer.
func otherUserSays(t *testing.T, mode string, args ...string) string {
	t.Helper()
	o := asOtherUser(t, mode, args...)
	s := o.line()
	o.stop()
	return s
}

// TestOtherUserHelper: the helper really runs as another user (else every
// test built on it would prove nothing).
func TestOtherUserHelper(t *testing.T) {
	u, err := user.Lookup("nobody")
	if err != nil {
		t.Fatal(err)
	}
	if got := otherUserSays(t, "whoami"); got != "uid "+u.Uid || u.Uid == strconv.Itoa(os.Getuid()) {
		t.Fatalf("helper runs as %q, want uid %s (this test runs as uid %d)", got, u.Uid, os.Getuid())
	}
}
