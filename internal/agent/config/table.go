package config

import (
	"fmt"
	"reflect"
	"strings"
	"sync"
	"time"
)

// A Key is one setting of the configuration. Keys() is the one list of
// them: the defaults, merging a file, the environment variables and the
// `eid-agent run` flags are all derived from it. Each key's value lives
// in the Config field whose toml tag path is its Name (tests check that
// every tagged field has a key and that example.toml documents each one
// with its default).
type Key struct {
	Name  string // dotted, as in the file: "listen", "audit.path"; array tables by name: "grant"
	Env   string // environment variable setting it; "" when none
	Flag  string // `eid-agent run` flag setting it; "" when none
	Usage string // the flag's help
	// Add: a later source adds to the list instead of replacing it (a
	// user can add origins, not remove the administrator's).
	Add bool
	// Policy: the administrator's policy file may set it; PolicyOnly:
	// nothing else may (a page, or a user talked into editing a file,
	// must not turn counter mode on).
	Policy, PolicyOnly bool
	// Ceiling: the policy's value is a maximum the user's file can only
	// lower.
	Ceiling bool

	def any // the default, of the field's type; nil: the zero value
}

// Keys lists every key, in the order the policy's keys are named in
// messages.
func Keys() []Key {
	return []Key{
		{Name: "listen", def: []string{"127.0.0.1:8877"}, Env: EnvListen,
			Flag: "listen", Usage: "loopback `ADDR:PORT` to serve ws://ADDR:PORT/ws and the demo page on (repeatable; default 127.0.0.1:8877)"},
		{Name: "allowed_origins", Add: true, Policy: true, Env: EnvAllowedOrigins,
			Flag: "allow-origin", Usage: "allow web pages of `ORIGIN` (exact scheme://host:port; repeatable)"},
		{Name: "grant", Add: true, Policy: true,
			Flag: "grant", Usage: "pre-approve `ORIGIN=PERMS` (PERMS: comma list of " + strings.Join(Permissions(), ",") + "); repeatable"},
		{Name: "allow_http_loopback_origins", Policy: true,
			Flag: "allow-http-loopback-origins", Usage: "accept http://localhost origins (development only)"},
		{Name: "simulate", Env: EnvSimulate,
			Flag: "simulate", Usage: "serve the built-in virtual reader and card instead of PC/SC"},
		{Name: "simulate_profile", def: "citizen-1.8",
			Flag: "profile", Usage: "the virtual card `NAME` inserted at start with --simulate"},
		{Name: "trust_roots", Add: true,
			Flag: "trust-root", Usage: "also trust the root certificate in `FILE.pem` (repeatable)"},
		{Name: "pin_prompt", def: "auto"},
		{Name: "pinentry_program"},
		{Name: "consent_prompt", def: "auto"},
		{Name: "queue_timeout", def: Duration{30 * time.Second}},
		{Name: "log_level", def: "info", Env: EnvLogLevel, Flag: "log-level", Usage: "debug, info, warn or error"},
		{Name: "log_format", def: "auto", Env: EnvLogFormat, Flag: "log-format", Usage: "text, json or auto"},
		{Name: "state_dir", Env: EnvStateDir,
			Flag: "state-dir", Usage: "where consent, audit journal and token are kept (default " + DefaultStateDir() + ")"},
		{Name: "audit.enabled"},
		{Name: "audit.path"},
		{Name: "audit.max_size_mb", def: 10},
		{Name: "audit.keep", def: 5},
		{Name: "cache.disk"},
		{Name: "cache.dir"},
		{Name: "journal.path"},
		{Name: "journal.retention_days", def: 400},
		{Name: "scanner.device"},
		{Name: "scanner.baud", def: 9600},
		{Name: "tls.listen"},
		{Name: "tls.cert"},
		{Name: "tls.key"},
		{Name: "limits.max_connections", def: 64},
		{Name: "limits.requests_per_second", def: 20.0},
		{Name: "limits.max_message_bytes", def: 8 << 10},
		{Name: "limits.idle_timeout", def: Duration{10 * time.Minute}},
		{Name: "attestation.per_insertion", def: 5, Policy: true, Ceiling: true},
		{Name: "attestation.per_origin_hourly", def: 30, Policy: true, Ceiling: true},
		{Name: "counter", Add: true, Policy: true, PolicyOnly: true},
	}
}

// Kind is how a key is written in the environment and on the command
// line.
type Kind int

const (
	Text Kind = iota // one value
	Bool             // a switch
	List             // repeatable flag; comma list in the environment
)

// Kind tells from the field's type.
func (k Key) Kind() Kind {
	switch fieldOf(&Config{}, k.Name).Kind() {
	case reflect.Bool:
		return Bool
	case reflect.Slice:
		return List
	}
	return Text
}

// A Setting is one value given for a key on the command line (Key is the
// key's Name); a List key may be given several.
type Setting struct{ Key, Value string }

// fields maps each key name to its field's index path in Config, from
// the toml tags: the tags are the names, nothing else restates them.
var fields = sync.OnceValue(func() map[string][]int {
	m := map[string][]int{}
	var walk func(prefix string, t reflect.Type, index []int)
	walk = func(prefix string, t reflect.Type, index []int) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag := f.Tag.Get("toml")
			if tag == "" || tag == "-" {
				continue
			}
			path := append(append([]int(nil), index...), i)
			if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeOf(Duration{}) {
				walk(prefix+tag+".", f.Type, path)
				continue
			}
			m[prefix+tag] = path
		}
	}
	walk("", reflect.TypeOf(Config{}), nil)
	return m
})

// fieldOf is the settable field of c holding key name.
func fieldOf(c *Config, name string) reflect.Value {
	path, ok := fields()[name]
	if !ok {
		panic("config: key " + name + " has no field") // a test covers every key
	}
	return reflect.ValueOf(c).Elem().FieldByIndex(path)
}

// set gives key k values read from the environment or the command line:
// a List key's values replace the list, or add to it (Add); the other
// kinds take the last value.
func (c *Config) set(k Key, values []string) error {
	dst := fieldOf(c, k.Name)
	switch dst.Interface().(type) {
	case string:
		dst.SetString(values[len(values)-1])
	case bool:
		switch strings.ToLower(values[len(values)-1]) {
		case "1", "true", "yes":
			dst.SetBool(true)
		case "0", "false", "no":
			dst.SetBool(false)
		default:
			return fmt.Errorf("want 1 or 0")
		}
	case []string:
		list := slicesOrNil(values)
		if k.Add {
			list = append(dst.Interface().([]string), list...)
		}
		dst.Set(reflect.ValueOf(list))
	case []Grant:
		gs := dst.Interface().([]Grant)
		for _, v := range values {
			subject, perms, ok := strings.Cut(v, "=")
			if !ok {
				return fmt.Errorf("%q: want ORIGIN=PERMS", v)
			}
			gs = append(gs, Grant{Origin: subject, Permissions: strings.Split(perms, ",")})
		}
		dst.Set(reflect.ValueOf(gs))
	default:
		return fmt.Errorf("cannot be set from the environment or a flag")
	}
	return nil
}

func slicesOrNil(v []string) []string {
	if len(v) == 0 {
		return nil
	}
	return append([]string(nil), v...)
}

// mergeKey copies key k of the file f over c.
func (c *Config) mergeKey(k Key, f *Config, policy bool) {
	dst, src := fieldOf(c, k.Name), fieldOf(f, k.Name)
	switch {
	case k.Add:
		if src.Len() > 0 {
			dst.Set(reflect.AppendSlice(dst, src))
		}
	case k.Ceiling && policy:
		if c.ceilings == nil {
			c.ceilings = map[string]int64{}
		}
		c.ceilings[k.Name] = src.Int()
		dst.Set(src)
	case k.Ceiling:
		v := src.Int()
		if limit := c.ceilings[k.Name]; limit > 0 && v > limit {
			v = limit
		}
		dst.SetInt(v)
	default:
		dst.Set(src)
	}
}

// policyKeys are the top-level names the administrator's policy may set;
// policyOnly those only it may.
func policyKeys() (policy, only []string) {
	for _, k := range Keys() {
		top, _, _ := strings.Cut(k.Name, ".")
		if k.Policy && (len(policy) == 0 || policy[len(policy)-1] != top) {
			policy = append(policy, top)
		}
		if k.PolicyOnly {
			only = append(only, top)
		}
	}
	return policy, only
}
