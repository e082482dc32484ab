//go:build unix

// Package redistest runs a private redis-server for tests (Unix only: it
// controls the process with signals and process groups): Debian's
// binary, on a free port of 127.0.0.1, with its own data directory under
// the test's temporary directory and no persistence. It is started and
// stopped by PID and never touches a system service, so tests on a shared
// machine neither depend on one nor disturb one.
//
// Without redis-server a test is skipped, except in CI (CI set), where it
// fails: scripts/test installs the package.
package redistest

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Server is one redis-server process.
type Server struct {
	t    testing.TB
	bin  string
	port int
	dir  string
	opts Options
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has been waited for
}

// Options of StartWith.
type Options struct {
	// TLS serves only TLS (rediss://), with a certificate for 127.0.0.1
	// from a CA made for the test (CAFile).
	TLS bool
	// Password is required of clients (requirepass), and put in URL.
	Password string
	// User, when set, is the ACL user URL names (with Password); its
	// rules are in Args ("--user", "NAME", "on", ">PASSWORD", "~keys",
	// "+command", ...: one argument per word, as redis-server reads them).
	User string
	// Args are further redis-server arguments.
	Args []string
}

// Binary returns the path of redis-server, or "" when it is not installed.
func Binary() string {
	if p, err := exec.LookPath("redis-server"); err == nil {
		return p
	}
	for _, p := range []string{"/usr/bin/redis-server", "/usr/sbin/redis-server"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// Require skips the test when redis-server is missing, or fails it in CI.
func Require(t testing.TB) string {
	t.Helper()
	bin := Binary()
	if bin == "" {
		const why = "redis-server is not installed (apt-get install redis-server; scripts/test does)"
		if os.Getenv("CI") != "" {
			t.Fatalf("required in CI: %s", why)
		}
		t.Skip(why)
	}
	return bin
}

// Start runs a new redis-server and stops it when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	return StartWith(t, Options{})
}

// StartWith is Start with TLS or a password.
func StartWith(t testing.TB, o Options) *Server {
	t.Helper()
	s := &Server{t: t, bin: Require(t), dir: t.TempDir(), opts: o}
	if o.TLS {
		if err := writeTLSFiles(s.dir); err != nil {
			t.Fatalf("redistest: %v", err)
		}
	}
	var err error
	// Another process may take the free port between our check and
	// redis-server's bind: try a few.
	for range 3 {
		if s.port, err = freePort(); err != nil {
			t.Fatal(err)
		}
		if err = s.start(); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("redistest: %v", err)
	}
	t.Cleanup(s.Stop)
	return s
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Addr is host:port.
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// URL is the URL of database 0: redis://, or rediss:// with TLS, with the
// password if there is one.
func (s *Server) URL() string {
	scheme, auth := "redis://", ""
	if s.opts.TLS {
		scheme = "rediss://"
	}
	if s.opts.Password != "" {
		auth = s.opts.User + ":" + s.opts.Password + "@"
	}
	return scheme + auth + s.Addr() + "/0"
}

// CAFile is the PEM file of the CA that signed the TLS certificate.
func (s *Server) CAFile() string { return filepath.Join(s.dir, "ca.pem") }

// Dir is the server's data and log directory.
func (s *Server) Dir() string { return s.dir }

// PID of the running process, 0 when stopped.
func (s *Server) PID() int {
	if s.cmd == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

func (s *Server) start() error {
	log := filepath.Join(s.dir, "redis.log")
	listen := []string{"--port", strconv.Itoa(s.port)}
	if s.opts.TLS {
		listen = []string{"--port", "0", "--tls-port", strconv.Itoa(s.port),
			"--tls-cert-file", filepath.Join(s.dir, "server.pem"),
			"--tls-key-file", filepath.Join(s.dir, "server.key"),
			"--tls-ca-cert-file", s.CAFile(),
			"--tls-auth-clients", "no"}
	}
	if s.opts.Password != "" && s.opts.User == "" {
		listen = append(listen, "--requirepass", s.opts.Password)
	}
	listen = append(listen, s.opts.Args...)
	cmd := exec.Command(s.bin, append(listen,
		"--bind", "127.0.0.1",
		"--dir", s.dir,
		"--logfile", log,
		"--daemonize", "no",
		"--save", "", // no snapshots: a restart starts empty, like a lost server
		"--appendonly", "no",
		"--protected-mode", "yes",
	)...)
	// Its own process group: a ^C to the test does not reach it first,
	// and Stop signals exactly this PID.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", s.bin, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	s.cmd, s.done = cmd, done
	deadline := time.Now().Add(15 * time.Second)
	for {
		select {
		case <-done:
			s.cmd = nil
			b, _ := os.ReadFile(log)
			return fmt.Errorf("redis-server on port %d exited at start: %s", s.port, lastLines(string(b), 5))
		default:
		}
		if s.ping() == nil {
			return nil
		}
		if time.Now().After(deadline) {
			s.Stop()
			return fmt.Errorf("redis-server on port %d did not answer PING within 15 s", s.port)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ping sends a RESP PING on a fresh connection (an error answer, such as
// NOAUTH, also shows the server is up).
func (s *Server) ping() error {
	var c net.Conn
	var err error
	d := &net.Dialer{Timeout: time.Second}
	if s.opts.TLS {
		pool := x509.NewCertPool()
		ca, rerr := os.ReadFile(s.CAFile())
		if rerr != nil {
			return rerr
		}
		pool.AppendCertsFromPEM(ca)
		c, err = tls.DialWithDialer(d, "tcp", s.Addr(), &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
	} else {
		c, err = d.Dial("tcp", s.Addr())
	}
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if l := strings.TrimSpace(line); l != "+PONG" && !strings.HasPrefix(l, "-NOAUTH") {
		return errors.New("unexpected answer " + strings.TrimSpace(line))
	}
	return nil
}

// Stop ends the process (SIGTERM, then SIGKILL after 10 s) and waits for
// it. Stopping a stopped server does nothing.
func (s *Server) Stop() { s.stop(syscall.SIGTERM) }

// Kill ends the process with SIGKILL, as a crash would.
func (s *Server) Kill() { s.stop(syscall.SIGKILL) }

func (s *Server) stop(sig syscall.Signal) {
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Signal(sig)
	s.cmd.Process.Signal(syscall.SIGCONT) // a paused server must see the signal
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
	}
	s.cmd = nil
}

// Restart starts the server again on the same port and directory (empty:
// nothing is persisted).
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	if err := s.start(); err != nil {
		s.t.Fatalf("redistest: restart: %v", err)
	}
}

func lastLines(s string, n int) string {
	l := strings.Split(strings.TrimSpace(s), "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, " | ")
}

// Pause stops the process (SIGSTOP) without closing its sockets: a Redis
// that accepts connections and never answers, as a hung or overloaded
// server does. Resume undoes it; Stop also works on a paused server.
func (s *Server) Pause() {
	if s.cmd != nil {
		s.cmd.Process.Signal(syscall.SIGSTOP)
	}
}

// Resume continues a paused server.
func (s *Server) Resume() {
	if s.cmd != nil {
		s.cmd.Process.Signal(syscall.SIGCONT)
	}
}

// writeTLSFiles makes a CA and a certificate for 127.0.0.1 signed by it
// (ca.pem, server.pem, server.key in dir).
func writeTLSFiles(dir string) error {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	srvKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "redistest CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	if err != nil {
		return err
	}
	ca, _ := x509.ParseCertificate(caDER)
	srvTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IPAddresses: []net.IP{netip.MustParseAddr("127.0.0.1").AsSlice()},
		KeyUsage:    x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, ca, srvKey.Public(), caKey)
	if err != nil {
		return err
	}
	keyDER, err := x509.MarshalECPrivateKey(srvKey)
	if err != nil {
		return err
	}
	for name, b := range map[string]*pem.Block{
		"ca.pem":     {Type: "CERTIFICATE", Bytes: caDER},
		"server.pem": {Type: "CERTIFICATE", Bytes: srvDER},
		"server.key": {Type: "EC PRIVATE KEY", Bytes: keyDER},
	} {
		if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(b), 0o600); err != nil {
			return err
		}
	}
	return nil
}
