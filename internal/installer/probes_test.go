package installer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/eid-agent/eid-agent/internal/clock"

	"github.com/eid-agent/eid-agent/internal/loopbackca"
)

type fakeInfo struct{ mode fs.FileMode }

func (f fakeInfo) Name() string       { return "x" }
func (f fakeInfo) Size() int64        { return 0 }
func (f fakeInfo) Mode() fs.FileMode  { return f.mode }
func (f fakeInfo) ModTime() time.Time { return time.Time{} }
func (f fakeInfo) IsDir() bool        { return false }
func (f fakeInfo) Sys() any           { return nil }

// answers is a Runner that answers per command line.
type answers map[string]string

func (a answers) Run(_ context.Context, args []string) ([]byte, error) {
	out, ok := a[strings.Join(args, " ")]
	if !ok || strings.HasPrefix(out, "!") {
		return []byte(strings.TrimPrefix(out, "!")), errors.New("exit status 1")
	}
	return []byte(out + "\n"), nil
}

func TestPCSCDCheck(t *testing.T) {
	stat := func(paths ...string) func(string) (fs.FileInfo, error) {
		return func(p string) (fs.FileInfo, error) {
			for _, q := range paths {
				if p == q {
					if q == PCSCSocket {
						return fakeInfo{fs.ModeSocket}, nil
					}
					return fakeInfo{0o755}, nil
				}
			}
			return nil, fs.ErrNotExist
		}
	}
	for _, tc := range []struct {
		name    string
		files   []string
		running bool
		enabled string
		want    Status
		fix     string
	}{
		{"running", []string{PCSCSocket, "/usr/sbin/pcscd"}, true, "!", OK, ""},
		{"socket-activated", []string{PCSCSocket, "/usr/sbin/pcscd"}, false, "enabled", OK, ""},
		{"not installed", nil, false, "!", Fail, "apt-get install pcscd"},
		{"stopped", []string{"/usr/sbin/pcscd"}, false, "!disabled", Fail, "systemctl enable --now pcscd.socket"},
		{"socket unit not listening", []string{"/usr/sbin/pcscd"}, false, "enabled", Fail, "systemctl start pcscd.socket"},
		{"no socket file", []string{"/usr/sbin/pcscd"}, true, "!", Fail, "systemctl restart pcscd"},
	} {
		p := &Probes{OS: "linux", Stat: stat(tc.files...), ProcessRunning: func(string) bool { return tc.running },
			Runner: answers{"systemctl is-enabled pcscd.socket": tc.enabled}}
		r := p.PCSCDCheck().Run(context.Background())
		if r.Status != tc.want || !strings.Contains(r.Fix, tc.fix) {
			t.Errorf("%s: %+v, want %s with fix %q", tc.name, r, tc.want, tc.fix)
		}
	}
}

// TestPCSCDCheckSocketFromEnv: with PCSCLITE_CSOCK_NAME set, libpcsclite
// connects there, so the check looks there and not at the default path.
func TestPCSCDCheckSocketFromEnv(t *testing.T) {
	const custom = "/tmp/lab/pcscd.comm"
	for _, tc := range []struct {
		name   string
		socket string // the one path that is a socket
		want   Status
	}{
		{"custom socket present", custom, OK},
		{"only the default socket", PCSCSocket, Fail},
	} {
		p := &Probes{OS: "linux", ProcessRunning: func(string) bool { return true }, Runner: answers{},
			Target: Target{Env: func(k string) string {
				if k == "PCSCLITE_CSOCK_NAME" {
					return custom
				}
				return ""
			}},
			Stat: func(name string) (fs.FileInfo, error) {
				if name == tc.socket {
					return fakeInfo{fs.ModeSocket}, nil
				}
				return nil, fs.ErrNotExist
			}}
		r := p.PCSCDCheck().Run(context.Background())
		if r.Status != tc.want || !strings.Contains(r.Detail, custom) {
			t.Errorf("%s: %+v, want %s naming %s", tc.name, r, tc.want, custom)
		}
	}
}

var (
	errNoService = errors.New("PC/SC service not running")
	errNoReader  = errors.New("no reader")
)

func TestReadersCheck(t *testing.T) {
	for _, tc := range []struct {
		name    string
		readers []ReaderInfo
		err     error
		want    Status
		detail  string
	}{
		{"two", []ReaderInfo{{"Virtual PCD 0 00 00", "Belgian eID 1.8"}, {"Virtual PCD 0 00 01", "no card"}}, nil, OK,
			"2 readers: Virtual PCD 0 00 00 (Belgian eID 1.8); Virtual PCD 0 00 01 (no card)"},
		{"one", []ReaderInfo{{"R", "no card"}}, nil, OK, "1 reader: R (no card)"},
		{"no service", nil, fmt.Errorf("wrapped: %w", errNoService), Fail, "cannot reach the PC/SC service"},
		{"no reader", nil, errNoReader, Warn, "no card reader"},
		{"other", nil, errors.New("weird"), Fail, "weird"},
	} {
		p := &Probes{ErrNoService: errNoService, ErrNoReader: errNoReader,
			Readers: func(context.Context) ([]ReaderInfo, error) { return tc.readers, tc.err }}
		r := p.ReadersCheck().Run(context.Background())
		if r.Status != tc.want || !strings.Contains(r.Detail, tc.detail) {
			t.Errorf("%s: %+v", tc.name, r)
		}
	}
}

func TestModuleAndServiceChecks(t *testing.T) {
	ctx := context.Background()
	p := &Probes{OS: "linux", PKCS11: func() (string, string, []string, error) {
		return "", "", []string{"/a.so", "/b.so"}, errors.New("no module")
	}}
	if r := p.PKCS11Check().Run(ctx); r.Status != Warn || !strings.Contains(r.Detail, "/a.so, /b.so") || !strings.Contains(r.Fix, "opensc-pkcs11") {
		t.Errorf("no module: %+v", r)
	}
	p.PKCS11 = func() (string, string, []string, error) { return "/usr/lib/x/opensc-pkcs11.so", "opensc", nil, nil }
	if r := p.PKCS11Check().Run(ctx); r.Status != OK || r.Detail != "opensc module /usr/lib/x/opensc-pkcs11.so" {
		t.Errorf("module: %+v", r)
	}
	p.Pinentry = func() (string, error) { return "", errors.New("none") }
	if r := p.PinentryCheck().Run(ctx); r.Status != Warn || !strings.Contains(r.Fix, "pinentry-gnome3") {
		t.Errorf("pinentry: %+v", r)
	}
	for _, tc := range []struct {
		active, enabled string
		want            Status
		fix             string
	}{
		{"active", "enabled", OK, ""},
		{"!failed", "enabled", Warn, "journalctl --user -u eid-agent"},
		{"!Failed to connect to bus", "enabled", Warn, "desktop session"},
		{"!inactive", "!disabled", Warn, "eid-agent install --user"},
	} {
		p.Runner = answers{"systemctl --user is-active eid-agent.service": tc.active, "systemctl --user is-enabled eid-agent.service": tc.enabled}
		if r := p.ServiceCheck().Run(ctx); r.Status != tc.want || !strings.Contains(r.Fix, tc.fix) {
			t.Errorf("service %s/%s: %+v", tc.active, tc.enabled, r)
		}
	}
}

func TestConfigChecks(t *testing.T) {
	ctx := context.Background()
	validate := func(o string, allowHTTP bool) error {
		if strings.HasPrefix(o, "https://") || allowHTTP && (strings.HasPrefix(o, "http://127.0.0.1") || strings.HasPrefix(o, "http://[::1]")) {
			return nil
		}
		return errors.New("not https")
	}
	p := &Probes{ValidateOrigin: validate}
	for _, tc := range []struct {
		name string
		cfg  *ConfigInfo
		err  error
		cs   Status // config line
		as   Status // allow-list line
		text string
	}{
		{"defaults", &ConfigInfo{}, nil, OK, Warn, "no web site"},
		{"good", &ConfigInfo{Sources: []string{"/etc/eid-agent/policy.toml"}, Origins: []string{"https://a.example"}}, nil, OK, OK, "1 allowed: https://a.example"},
		{"http", &ConfigInfo{Origins: []string{"http://a.example"}}, nil, OK, Fail, `"http://a.example" (not https)`},
		{"dev http", &ConfigInfo{Origins: []string{"http://127.0.0.1:3000"}, AllowHTTP: true}, nil, OK, Warn, "development"},
		{"own address", &ConfigInfo{Origins: []string{"http://127.0.0.1:8877"}, AllowHTTP: true}, nil, OK, Warn, "agent's own address"},
		{"own other family", &ConfigInfo{Listen: []string{"127.0.0.1:9000"}, Origins: []string{"http://[::1]:9000"}, AllowHTTP: true}, nil, OK, Warn, "agent's own address"},
		{"own wss address", &ConfigInfo{TLSListen: []string{"127.0.0.1:8878"}, Origins: []string{"https://127.0.0.1:8878"}}, nil, OK, Warn, "agent's own address"},
		{"broken file", nil, errors.New("config.toml:3: unknown key"), Fail, Warn, "not checked"},
	} {
		c := p.ConfigCheck(tc.cfg, tc.err).Run(ctx)
		a := p.AllowListCheck(tc.cfg, tc.err).Run(ctx)
		if c.Status != tc.cs || a.Status != tc.as || !strings.Contains(a.Detail, tc.text) {
			t.Errorf("%s: config %+v allow-list %+v", tc.name, c, a)
		}
	}
}

func TestTLSCheck(t *testing.T) {
	dir := t.TempDir()
	p := &Probes{TLSDir: dir}
	if r := p.TLSCheck().Run(context.Background()); r.Status != Warn || r.Fix != "eid-agent tls init" {
		t.Errorf("missing: %+v", r)
	}
	b, err := loopbackca.Init(dir, false, loopbackca.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		at   time.Time
		want Status
		text string
	}{
		{clock.Now(), OK, "valid until"},
		{b.Cert.NotAfter.Add(-10 * 24 * time.Hour), Warn, "days left"},
		{b.Cert.NotAfter.Add(time.Hour), Fail, "expired"},
	} {
		p.Now = tc.at
		if r := p.TLSCheck().Run(context.Background()); r.Status != tc.want || !strings.Contains(r.Detail, tc.text) {
			t.Errorf("at %v: %+v", tc.at, r)
		}
	}
}

func TestPortCheck(t *testing.T) {
	// Like the bridge: /ws without Origin is refused in JSON.
	bridgeLike := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/ws" {
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprint(w, `{"error":{"code":"ORIGIN_NOT_ALLOWED","message":"..."}}`)
			return
		}
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, `{"error":{"code":"BAD_REQUEST"}}`)
	}))
	defer bridgeLike.Close()
	foreign := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "hello") }))
	defer foreign.Close()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()
	raw, _ := net.Listen("tcp", "127.0.0.1:0") // accepts, never answers HTTP
	defer raw.Close()
	go func() {
		for {
			c, err := raw.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("SSH-2.0-x\r\n"))
			c.Close()
		}
	}()
	host := func(s *httptest.Server) string { return strings.TrimPrefix(s.URL, "http://") }
	for _, tc := range []struct {
		name   string
		listen []string
		want   Status
		text   string
	}{
		{"ours", []string{host(bridgeLike)}, OK, "answers on ws://"},
		{"nothing", []string{closed}, Warn, "not running"},
		{"foreign", []string{host(foreign)}, Fail, "another program"},
		{"not http", []string{raw.Addr().String()}, Fail, "does not answer as the agent"},
		{"ours and foreign", []string{host(bridgeLike), host(foreign)}, Fail, "another program"},
	} {
		p := &Probes{HTTPTimeout: time.Second}
		r := p.PortCheck(&ConfigInfo{Listen: tc.listen}).Run(context.Background())
		if r.Status != tc.want || !strings.Contains(r.Detail, tc.text) {
			t.Errorf("%s: %+v", tc.name, r)
		}
	}
}

// TestPortCheckListeners: who holds the agent's ports decides before any
// HTTP answer (a squatter can answer exactly like the agent).
func TestPortCheckListeners(t *testing.T) {
	// A server that answers like the bridge, on a port the fake socket
	// table then fills with various holders.
	bridgeLike := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprint(w, `{"error":{"code":"ORIGIN_NOT_ALLOWED"}}`)
	}))
	defer bridgeLike.Close()
	addr := strings.TrimPrefix(bridgeLike.URL, "http://")
	_, port, _ := net.SplitHostPort(addr)
	for _, tc := range []struct {
		name    string
		holders []Listener
		want    Status
		text    string
	}{
		{"our agent on both families", []Listener{{Addr: addr, UID: 1000, PID: 42, Program: "eid-agent"}, {Addr: "[::1]:" + port, UID: 1000, PID: 42, Program: "eid-agent"}}, OK, "answers"},
		{"another user on ::1", []Listener{{Addr: addr, UID: 1000, PID: 42, Program: "eid-agent"}, {Addr: "[::1]:" + port, UID: 65534}}, Fail, "another user"},
		{"another user on the wildcard", []Listener{{Addr: "0.0.0.0:" + port, UID: 1001}}, Fail, "uid 1001"},
		{"another user's IPv6 wildcard", []Listener{{Addr: "[::]:" + port, UID: 0}}, Fail, "listens on [::]:" + port},
		{"another program of ours", []Listener{{Addr: addr, UID: 1000, PID: 77, Program: "python3"}}, Fail, "python3, pid 77"},
		{"not on loopback", []Listener{{Addr: addr, UID: 1000, PID: 42, Program: "eid-agent"}, {Addr: "192.0.2.1:" + port, UID: 1001}}, OK, "answers"},
	} {
		p := &Probes{HTTPTimeout: time.Second, UID: func() int { return 1000 },
			Listeners: func(int) ([]Listener, error) { return tc.holders, nil }}
		r := p.PortCheck(&ConfigInfo{Listen: []string{addr}}).Run(context.Background())
		if r.Status != tc.want || !strings.Contains(r.Detail, tc.text) || (r.Status == Fail && r.Fix == "") {
			t.Errorf("%s: %+v", tc.name, r)
		}
	}
	// Where the system does not tell, the HTTP probe decides alone.
	p := &Probes{HTTPTimeout: time.Second, Listeners: func(int) ([]Listener, error) { return nil, errors.New("no /proc") }}
	if r := p.PortCheck(&ConfigInfo{Listen: []string{addr}}).Run(context.Background()); r.Status != OK {
		t.Errorf("without a socket table: %+v", r)
	}
}

func TestReportGolden(t *testing.T) {
	results := []Result{
		{Name: "pcscd", Status: OK, Detail: "pcscd running, socket /run/pcscd/pcscd.comm"},
		{Name: "readers", Status: Warn, Detail: "no card reader connected", Fix: "connect the card reader"},
		{Name: "allow-list", Status: Fail, Detail: "malformed allowed origins: \"http://a\"\n(not https)", Fix: "write each origin as https://host[:port]"},
	}
	var text, js bytes.Buffer
	if err := WriteText(&text, results); err != nil {
		t.Fatal(err)
	}
	if err := WriteJSON(&js, "1.2.3", "linux", results); err != nil {
		t.Fatal(err)
	}
	golden(t, "doctor.txt", text.Bytes())
	golden(t, "doctor.json", js.Bytes())
	if AllOK(results) || Worst(results) != Fail || Worst(results[:2]) != Warn || !AllOK(results[:1]) {
		t.Error("AllOK/Worst")
	}
	got := RunChecks(context.Background(), []Check{{"named", func(context.Context) Result { return Result{Status: OK} }}})
	if got[0].Name != "named" {
		t.Errorf("RunChecks did not name the result: %+v", got)
	}
}
