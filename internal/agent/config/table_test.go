package config

import (
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestKeysAreTheFields: Keys() and the toml tags of Config name the same
// keys, once each; environment variables and flags are unique and of a
// kind they can set.
func TestKeysAreTheFields(t *testing.T) {
	var names []string
	envs, flags := map[string]bool{}, map[string]bool{}
	for _, k := range Keys() {
		if slices.Contains(names, k.Name) {
			t.Errorf("key %s listed twice", k.Name)
		}
		names = append(names, k.Name)
		if _, ok := fields()[k.Name]; !ok {
			t.Errorf("key %s has no field with that toml tag", k.Name)
			continue
		}
		if k.def != nil && reflect.TypeOf(k.def) != fieldOf(&Config{}, k.Name).Type() {
			t.Errorf("key %s: default of type %T, field of type %s", k.Name, k.def, fieldOf(&Config{}, k.Name).Type())
		}
		for _, name := range []struct {
			seen map[string]bool
			v    string
		}{{envs, k.Env}, {flags, k.Flag}} {
			if name.v == "" {
				continue
			}
			if name.seen[name.v] {
				t.Errorf("%s used twice", name.v)
			}
			name.seen[name.v] = true
			if err := (&Config{}).set(k, []string{sample(k)}); err != nil {
				t.Errorf("key %s (%s) cannot be set: %v", k.Name, name.v, err)
			}
		}
		if k.Flag != "" && k.Usage == "" {
			t.Errorf("flag --%s has no usage", k.Flag)
		}
		if (k.Ceiling && !k.Policy) || (k.PolicyOnly && !k.Policy) {
			t.Errorf("key %s: Ceiling and PolicyOnly need Policy", k.Name)
		}
	}
	for name := range fields() {
		if !slices.Contains(names, name) {
			t.Errorf("field %s is not in Keys()", name)
		}
	}
}

func sample(k Key) string {
	switch k.Kind() {
	case Bool:
		return "1"
	case List:
		return "https://a.example=identity"
	}
	return "x"
}

// TestExampleValuesAreDefaults: each "# key = value" example.toml shows
// (uncommented, in its table) gives Defaults(): the documented defaults
// are the real ones.
func TestExampleValuesAreDefaults(t *testing.T) {
	isolate(t)
	keyLine := regexp.MustCompile(`^# ([a-z_]+) = `)
	table := ""
	var out []string
	uncommented := map[string]bool{}
	for _, line := range strings.Split(string(Example), "\n") {
		if strings.HasPrefix(line, "[") {
			table = strings.Trim(line, "[]") + "."
		}
		if m := keyLine.FindStringSubmatch(line); m != nil {
			if _, ok := fields()[table+m[1]]; ok && !slices.Contains([]string{"grant", "counter"}, m[1]) {
				line = strings.TrimPrefix(line, "# ")
				uncommented[table+m[1]] = true
			}
		}
		out = append(out, line)
	}
	if len(uncommented) != len(Keys())-2 { // all but [[grant]] and [[counter]]
		t.Errorf("%d keys shown with a value in example.toml, want %d", len(uncommented), len(Keys())-2)
	}
	c, err := Check(write(t, strings.Join(out, "\n")))
	if err != nil {
		t.Fatal(err)
	}
	d := Defaults()
	d.fillPaths()
	c.Sources = nil
	// Spelt differently, the same: "enabled = true" is the default on
	// (nil), "listen = []" the default none (nil).
	if c.AuditEnabled() {
		c.Audit.Enabled = nil
	}
	if len(c.TLS.Listen) == 0 {
		c.TLS.Listen = nil
	}
	if !reflect.DeepEqual(c, d) {
		t.Errorf("example values != defaults:\n%+v\n%+v", c, d)
	}
}
