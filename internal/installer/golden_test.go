package installer

import (
	"bytes"
	"crypto/sha256"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/eid-agent/eid-agent/internal/testkit"
)

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	testkit.Golden(t, filepath.Join("testdata", name+".golden"), got)
}

// targets used by the golden tests, one per OS and scope.
func goldenTargets() map[string]Target {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	return map[string]Target{
		"linux-user":     {OS: "linux", Scope: User, Binary: "/usr/bin/eid-agent", Home: "/home/ana", Env: env(nil)},
		"linux-user-xdg": {OS: "linux", Scope: User, Binary: "/opt/eid agent/bin/eid-agent", Home: "/home/ana", Env: env(map[string]string{"XDG_CONFIG_HOME": "/home/ana/cfg", "XDG_STATE_HOME": "relative/ignored"})},
		"linux-system":   {OS: "linux", Scope: System, Binary: "/usr/bin/eid-agent"},
		"darwin-user":    {OS: "darwin", Scope: User, Binary: "/usr/local/bin/eid-agent", Home: "/Users/ana", UID: 501},
		"darwin-system":  {OS: "darwin", Scope: System, Binary: "/usr/local/bin/eid-agent"},
		"windows-user": {OS: "windows", Scope: User, Binary: `C:\Program Files\eid-agent\eid-agent.exe`, User: `HOSPITAL\ana`,
			Env: env(map[string]string{"APPDATA": `C:\Users\ana\AppData\Roaming`, "LOCALAPPDATA": `C:\Users\ana\AppData\Local`})},
		"windows-system": {OS: "windows", Scope: System, Binary: `C:\Program Files\eid-agent\eid-agent.exe`,
			Env: env(map[string]string{"ProgramData": `C:\ProgramData`})},
	}
}

func TestSystemdUnitGolden(t *testing.T) {
	for name, bin := range map[string]string{"systemd-unit": "/usr/bin/eid-agent", "systemd-unit-spaces": "/opt/eid agent/100%/eid-agent"} {
		u, err := SystemdUnit(bin)
		if err != nil {
			t.Fatal(err)
		}
		golden(t, name, u)
	}
}

func TestSystemdExec(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"/usr/bin/eid-agent", "/usr/bin/eid-agent"},
		{"/opt/eid agent/eid-agent", `"/opt/eid agent/eid-agent"`},
		{"/opt/100%/eid-agent", "/opt/100%%/eid-agent"},
		{"/opt/$HOME/eid-agent", `"/opt/$HOME/eid-agent"`},
		{"/opt/é/eid-agent", `"/opt/é/eid-agent"`},
		{`/opt/"q"/eid-agent`, ""},
		{`/opt/it's/eid-agent`, ""},
		{`/opt/back\slash`, ""},
		{"/opt/new\nline", ""},
	} {
		got, err := systemdExec(tc.in)
		if tc.want == "" {
			if err == nil {
				t.Errorf("systemdExec(%q) = %q, want an error", tc.in, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("systemdExec(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func wellFormedXML(t *testing.T, name string, data []byte) {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(data))
	// The task text declares UTF-16 but is held as UTF-8 until
	// WindowsTaskFile encodes it.
	dec.CharsetReader = func(_ string, r io.Reader) (io.Reader, error) { return r, nil }
	for {
		_, err := dec.Token()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return
			}
			t.Fatalf("%s is not well-formed XML: %v", name, err)
		}
	}
}

func TestLaunchdPlistGolden(t *testing.T) {
	p := LaunchdPlist("/Applications/eID <Agent>.app/Contents/MacOS/eid-agent")
	wellFormedXML(t, "plist", p)
	if !strings.Contains(string(p), "eID &lt;Agent&gt;.app") {
		t.Error("binary path not escaped")
	}
	golden(t, "launchd-plist", LaunchdPlist("/usr/local/bin/eid-agent"))
}

func TestWindowsTaskGolden(t *testing.T) {
	for _, name := range []string{"windows-user", "windows-system"} {
		text := WindowsTask(goldenTargets()[name])
		wellFormedXML(t, name, []byte(text))
		golden(t, "task-"+name, []byte(text))
	}
	// The file form is UTF-16LE with a BOM and CRLF; decoding it gives the
	// text back.
	text := WindowsTask(goldenTargets()["windows-user"])
	f := WindowsTaskFile(text)
	if f[0] != 0xFF || f[1] != 0xFE || len(f)%2 != 0 {
		t.Fatalf("no UTF-16LE BOM: % x", f[:4])
	}
	u := make([]uint16, 0, len(f)/2-1)
	for i := 2; i < len(f); i += 2 {
		u = append(u, uint16(f[i])|uint16(f[i+1])<<8)
	}
	back := string(utf16.Decode(u))
	if back != strings.ReplaceAll(text, "\n", "\r\n") {
		t.Error("UTF-16 file does not decode to the task text")
	}
}

func TestPolicyGolden(t *testing.T) {
	golden(t, "policy-sample.toml", PolicyTOML(nil))
	origins := []string{"https://admission.hospital.example", "https://lab.hospital.example:8443"}
	golden(t, "policy-origins.toml", PolicyTOML(origins))
	golden(t, "chrome-policy.json", ChromePolicy(origins))
	if got := tomlString("a\"b\\c\x01"); got != `"a\"b\\c\u0001"` {
		t.Errorf("tomlString = %s", got)
	}
}

// describe renders a plan for a golden file: each file with its mode,
// kind and content digest (contents have golden files of their own),
// the commands and notes.
func describe(p *Plan) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "layout: service=%s config=%s tls=%s policy=%s manifest=%s\n",
		p.Layout.Service, p.Layout.ConfigDir, p.Layout.TLSDir, p.Layout.Policy, p.Layout.Manifest)
	for _, f := range p.Files {
		fmt.Fprintf(&b, "file %s %04o %s sha256:%x\n", f.Path, f.Mode, f.Kind, sha256.Sum256(f.Data))
	}
	cmds := func(what string, cs []Command) {
		for _, c := range cs {
			var flags []string
			if c.Optional {
				flags = append(flags, "optional")
			}
			if c.IfChanged {
				flags = append(flags, "if-changed")
			}
			fmt.Fprintf(&b, "%s %q %s\n", what, c.Args, strings.Join(flags, ","))
		}
	}
	cmds("activate", p.Activate)
	cmds("deactivate", p.Deactivate)
	cmds("cleanup", p.Cleanup)
	for _, n := range p.Notes {
		fmt.Fprintf(&b, "note %s\n", n)
	}
	return []byte(b.String())
}

func TestPlanGolden(t *testing.T) {
	for name, tg := range goldenTargets() {
		t.Run(name, func(t *testing.T) {
			var opts Options
			if tg.Scope == System {
				opts.AllowedOrigins = []string{"https://admission.hospital.example"}
				opts.BrowserPolicy = tg.OS == "linux"
			}
			p, err := NewPlan(tg, opts)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, "plan-"+name, describe(p))
		})
	}
}

func TestPlanErrors(t *testing.T) {
	tg := goldenTargets()
	for _, tc := range []struct {
		name string
		t    Target
		opts Options
		want error
	}{
		{"relative binary", Target{OS: "linux", Scope: User, Binary: "eid-agent", Home: "/home/a"}, Options{}, ErrTarget},
		{"no home", Target{OS: "linux", Scope: User, Binary: "/usr/bin/eid-agent"}, Options{}, ErrTarget},
		{"unknown OS", Target{OS: "plan9", Scope: User, Binary: "/bin/eid-agent", Home: "/usr/a"}, Options{}, ErrTarget},
		{"no scope", Target{OS: "linux", Binary: "/bin/eid-agent", Home: "/home/a"}, Options{}, ErrTarget},
		{"windows user without user", Target{OS: "windows", Scope: User, Binary: `C:\a.exe`}, Options{}, ErrTarget},
		{"windows without APPDATA", Target{OS: "windows", Scope: User, Binary: `C:\a.exe`, User: "u"}, Options{}, ErrTarget},
		{"browser policy on macOS", tg["darwin-system"], Options{BrowserPolicy: true, AllowedOrigins: []string{"https://a.example"}}, ErrUnsupported},
		{"browser policy without origins", tg["linux-system"], Options{BrowserPolicy: true}, ErrTarget},
		{"TLS in system scope", tg["linux-system"], Options{TLS: true}, ErrUnsupported},
		{"origins in user scope", tg["linux-user"], Options{AllowedOrigins: []string{"https://a.example"}}, ErrUnsupported},
		{"quote in binary", Target{OS: "linux", Scope: System, Binary: `/opt/"x"/eid-agent`}, Options{}, ErrTarget},
	} {
		if _, err := NewPlan(tc.t, tc.opts); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
}
