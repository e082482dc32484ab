package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
)

func write(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func isolate(t *testing.T) {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("EID_AGENT_POLICY", filepath.Join(dir, "no-policy.toml"))
	t.Setenv("EID_AGENT_CONFIG", "")
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(dir, "config"))
	t.Setenv("XDG_STATE_HOME", filepath.Join(dir, "state"))
	for _, k := range Keys() {
		if k.Env != "" {
			t.Setenv(k.Env, "")
		}
	}
}

func TestExampleIsDefaults(t *testing.T) {
	isolate(t)
	c, err := Check(write(t, string(Example)))
	if err != nil {
		t.Fatal(err)
	}
	d := Defaults()
	d.fillPaths()
	c.Sources = nil
	if !reflect.DeepEqual(c, d) {
		t.Errorf("example (all commented) != defaults:\n%+v\n%+v", c, d)
	}
}

// Every key of the file format is documented in example.toml.
func TestExampleDocumentsEveryKey(t *testing.T) {
	var walk func(prefix string, typ reflect.Type)
	walk = func(prefix string, typ reflect.Type) {
		for i := 0; i < typ.NumField(); i++ {
			f := typ.Field(i)
			tag := f.Tag.Get("toml")
			if tag == "-" || tag == "" {
				continue
			}
			ft := f.Type
			if ft.Kind() == reflect.Struct && ft != reflect.TypeOf(Duration{}) && tag != "grant" && tag != "counter" {
				if !strings.Contains(string(Example), "\n["+tag+"]\n") {
					t.Errorf("table [%s] not in example.toml", tag)
				}
				walk(tag+".", ft)
				continue
			}
			re := regexp.MustCompile(`(?m)^# ` + regexp.QuoteMeta(tag) + ` = `)
			if tag == "grant" || tag == "counter" {
				re = regexp.MustCompile(`(?m)^# \[\[` + tag + `\]\]`)
			}
			if !re.MatchString(string(Example)) {
				t.Errorf("key %s%s is not documented in example.toml", prefix, tag)
			}
		}
	}
	walk("", reflect.TypeOf(Config{}))
}

func TestLoadValues(t *testing.T) {
	isolate(t)
	p := write(t, `
listen = ["127.0.0.1:9000", "[::1]:9000"]
allowed_origins = ["https://app.example:8443"]
queue_timeout = "5s"
log_level = "debug"
simulate = true

[[grant]]
origin = "https://app.example:8443"
permissions = ["identity", "authenticate"]

[audit]
enabled = false
keep = 2

[limits]
idle_timeout = "1m"
`)
	c, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c.Listen, []string{"127.0.0.1:9000", "[::1]:9000"}) || c.QueueTimeout.Duration != 5*time.Second ||
		c.LogLevel != "debug" || !c.Simulate || c.AuditEnabled() || c.Audit.Keep != 2 || c.Audit.MaxSizeMB != 10 ||
		c.Limits.IdleTimeout.Duration != time.Minute || c.Limits.MaxConnections != 64 || len(c.Grants) != 1 {
		t.Errorf("got %+v", c)
	}
	if c.Audit.Path == "" || !strings.HasPrefix(c.Audit.Path, os.Getenv("XDG_STATE_HOME")) {
		t.Errorf("audit path %q not under XDG_STATE_HOME", c.Audit.Path)
	}
}

func TestProblemsHaveLines(t *testing.T) {
	isolate(t)
	tests := []struct {
		name, body string
		line       int
		key, msg   string
	}{
		{"unknown key", "listen = [\"127.0.0.1:1\"]\nalowed_origins = [\"https://a.example\"]\n", 2, "alowed_origins", "unknown key"},
		{"unknown table key", "[audit]\nkeep = 1\nsize = 3\n", 3, "audit.size", "unknown key"},
		{"syntax", "listen = [\"127.0.0.1:1\"\nlog_level = \"info\"\n", 2, "", ""},
		{"type", "\n\nkeep_alive = 1\n", 3, "keep_alive", "unknown"},
		{"wrong type", "log_level = 3\n", 1, "", ""},
		{"network listen", "\nlisten = [\"0.0.0.0:8877\"]\n", 2, "listen", "not a loopback"},
		{"localhost listen", "listen = [\"localhost:8877\"]\n", 1, "listen", "loopback IP"},
		{"wildcard origin", "# c\n\nallowed_origins = [\"https://*.example\"]\n", 3, "allowed_origins", "wildcard"},
		{"http origin", "allowed_origins = [\"http://app.example\"]\n", 1, "allowed_origins", "only for loopback"},
		{"http loopback without switch", "allowed_origins = [\"http://127.0.0.1:3000\"]\n", 1, "allowed_origins", "allow_http_loopback_origins"},
		{"origin with path", "allowed_origins = [\"https://app.example/login\"]\n", 1, "allowed_origins", "no path"},
		{"upper case origin", "allowed_origins = [\"https://App.example\"]\n", 1, "allowed_origins", "lower case"},
		{"default port", "allowed_origins = [\"https://app.example:443\"]\n", 1, "allowed_origins", "default port"},
		{"leading zero port", "allowed_origins = [\"https://app.example:0443\"]\n", 1, "allowed_origins", "port"},
		{"trailing dot", "allowed_origins = [\"https://app.example.\"]\n", 1, "allowed_origins", "invalid origin"},
		{"numeric host", "allowed_origins = [\"https://2130706433\"]\n", 1, "allowed_origins", "IPv4"},
		{"grant default port", "\n[[grant]]\norigin = \"https://a.example:443\"\npermissions = [\"identity\"]\n", 2, "grant", "default port"},
		{"bad permission", "\n[[grant]]\norigin = \"https://a.example\"\npermissions = [\"everything\"]\n", 2, "grant", "unknown permission"},
		{"bad duration", "queue_timeout = \"soon\"\n", 1, "", "not a duration"},
		{"bad level", "\nlog_level = \"verbose\"\n", 2, "log_level", "not one of"},
		{"negative keep", "[audit]\n\nkeep = -1\n", 3, "audit.keep", "positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Check(write(t, tt.body))
			var ce *Error
			if !errors.As(err, &ce) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("err = %v, want *Error wrapping ErrInvalid", err)
			}
			p := ce.Problems[0]
			if p.Line != tt.line || (tt.key != "" && p.Key != tt.key) || !strings.Contains(p.String(), tt.msg) {
				t.Errorf("problem %q (line %d key %q), want line %d key %q containing %q", p, p.Line, p.Key, tt.line, tt.key, tt.msg)
			}
		})
	}
}

func TestPolicyMergesAndIsRestricted(t *testing.T) {
	isolate(t)
	pol := write(t, "allowed_origins = [\"https://hospital.example\"]\n[[grant]]\norigin = \"https://hospital.example\"\npermissions = [\"identity\"]\n")
	t.Setenv("EID_AGENT_POLICY", pol)
	user := write(t, "allowed_origins = [\"https://pharmacy.example\"]\n")
	c, err := Load(user)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c.AllowedOrigins, []string{"https://hospital.example", "https://pharmacy.example"}) || len(c.Grants) != 1 {
		t.Errorf("origins %v grants %v", c.AllowedOrigins, c.Grants)
	}
	if len(c.Sources) != 2 {
		t.Errorf("sources %v", c.Sources)
	}
	bad := write(t, "allowed_origins = []\nlisten = [\"127.0.0.1:1\"]\n")
	t.Setenv("EID_AGENT_POLICY", bad)
	_, err = Load(user)
	var ce *Error
	if !errors.As(err, &ce) || ce.Problems[0].Line != 2 || !strings.Contains(ce.Error(), "not a policy key") {
		t.Errorf("policy with listen: %v", err)
	}
}

// TestAdminPermissions: proofs-all is accepted in the policy file only:
// not in the user's file, not from flags (Validate of a grant not from
// the policy), and `config check` of the policy file accepts it.
func TestAdminPermissions(t *testing.T) {
	isolate(t)
	grant := "[[grant]]\norigin = \"https://billing.example\"\npermissions = [\"identity\", \"proofs-all\"]\n"
	pol := write(t, grant)
	t.Setenv("EID_AGENT_POLICY", pol)
	c, err := Load("")
	if err != nil {
		t.Fatalf("policy granting proofs-all: %v", err)
	}
	if len(c.Grants) != 1 || !c.Grants[0].FromPolicy {
		t.Errorf("grants %+v", c.Grants)
	}
	if ps := c.Validate("flags"); len(ps) != 0 {
		t.Errorf("the merged configuration: %v", ps)
	}
	if _, err := Check(pol); err != nil {
		t.Errorf("config check of the policy file: %v", err)
	}
	// The user's file cannot grant it.
	user := write(t, grant)
	_, err = Load(user)
	var ce *Error
	if !errors.As(err, &ce) || len(ce.Problems) != 1 || ce.Problems[0].Line != 1 ||
		!strings.Contains(ce.Error(), `"proofs-all" can be granted only in the administrator's policy file`) {
		t.Errorf("user file granting proofs-all: %v", err)
	}
	if _, err := Check(user); !errors.As(err, &ce) {
		t.Errorf("config check of a user file granting proofs-all: %v", err)
	}
	// Nor a flag (run --grant ORIGIN=proofs-all adds a grant not from the policy).
	c.Grants = append(c.Grants, Grant{Origin: "https://page.example", Permissions: []string{"proofs-all"}})
	if ps := c.Validate("flags"); len(ps) != 1 || !strings.Contains(ps[0].Message, "policy file") {
		t.Errorf("flag granting proofs-all: %v", ps)
	}
	// Unknown permissions still name the known ones.
	c.Grants = []Grant{{Origin: "https://page.example", Permissions: []string{"everything"}, FromPolicy: true}}
	if ps := c.Validate("flags"); len(ps) != 1 || !strings.Contains(ps[0].Message, "proofs-all") {
		t.Errorf("unknown permission: %v", ps)
	}
}

func TestMissingFiles(t *testing.T) {
	isolate(t)
	if _, err := Load(""); err != nil {
		t.Errorf("no default file must be fine: %v", err)
	}
	if _, err := Load(filepath.Join(t.TempDir(), "nope.toml")); !errors.Is(err, ErrInvalid) {
		t.Errorf("a named missing file must fail: %v", err)
	}
}

func TestEnvironmentOverrides(t *testing.T) {
	isolate(t)
	p := write(t, "listen = [\"127.0.0.1:9000\"]\nlog_level = \"warn\"\n")
	t.Setenv(EnvListen, "127.0.0.1:9100, [::1]:9100")
	t.Setenv(EnvLogLevel, "debug")
	t.Setenv(EnvSimulate, "1")
	c, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c.Listen, []string{"127.0.0.1:9100", "[::1]:9100"}) || c.LogLevel != "debug" || !c.Simulate {
		t.Errorf("got %v %v %v", c.Listen, c.LogLevel, c.Simulate)
	}
	t.Setenv(EnvListen, "192.168.1.1:80")
	if _, err := Load(p); !errors.Is(err, ErrInvalid) {
		t.Errorf("env listen on a network must fail: %v", err)
	}
}

func FuzzCheck(f *testing.F) {
	f.Add(string(Example))
	f.Add("listen = [\"127.0.0.1:1\"]\n[[grant]]\norigin=\"https://a\"\n")
	f.Add("[audit]\nkeep = -1\n")
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, body string) {
		p := filepath.Join(dir, "c.toml")
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := Check(p)
		if err != nil {
			var ce *Error
			if !errors.As(err, &ce) || len(ce.Problems) == 0 {
				t.Fatalf("error without problems: %v", err)
			}
			return
		}
		for _, l := range c.Listen {
			if CheckListen(l) != nil {
				t.Fatalf("accepted listen %q", l)
			}
		}
	})
}
