package config

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

const goodCounter = `allowed_origins = ["https://desk.example"]

[[counter]]
client = "https://desk.example"
fields = ["identity.surname", "identity.firstNames", "address", "photo"]
revocation = true

[[counter]]
client = "app:local"
fields = ["identity", "photo"]
attestation = true
`

// TestCounterPolicy: counter pairings load from the policy, and `config
// check` of the policy file applies the policy's rules.
func TestCounterPolicy(t *testing.T) {
	isolate(t)
	pol := write(t, goodCounter)
	t.Setenv("EID_AGENT_POLICY", pol)
	c, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	want := []Counter{
		{Client: "https://desk.example", Fields: []string{"identity.surname", "identity.firstNames", "address", "photo"}, Revocation: true},
		{Client: "app:local", Fields: []string{"identity", "photo"}, Attestation: true},
	}
	if !reflect.DeepEqual(c.Counters, want) {
		t.Errorf("counters %+v", c.Counters)
	}
	if _, err := Check(pol); err != nil {
		t.Errorf("config check of the policy file: %v", err)
	}
}

// TestCounterOnlyInPolicy: the user's file cannot pair a counter
// application; it says where to do it.
func TestCounterOnlyInPolicy(t *testing.T) {
	isolate(t)
	_, err := Check(write(t, "log_level = \"info\"\n\n"+goodCounter))
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("%v", err)
	}
	var lines []int
	for _, p := range ce.Problems {
		if !strings.Contains(p.Message, "policy file only") {
			t.Errorf("problem %v", p)
		}
		lines = append(lines, p.Line)
	}
	if !reflect.DeepEqual(lines, []int{5, 10}) {
		t.Errorf("problems on lines %v, want [5 10]: %v", lines, err)
	}
	// Through Load too: the user's file is refused as a whole.
	if _, err := Load(write(t, goodCounter)); !errors.Is(err, ErrInvalid) {
		t.Errorf("Load: %v", err)
	}
}

func TestCounterProblems(t *testing.T) {
	isolate(t)
	for _, tt := range []struct{ name, body, msg string }{
		{"no client", "[[counter]]\nfields = [\"identity\"]\n", "needs a client"},
		{"bad origin", "[[counter]]\nclient = \"http://desk.example\"\nfields = [\"identity\"]\n", "only for loopback"},
		{"bare app", "[[counter]]\nclient = \"app:\"\nfields = [\"identity\"]\n", "name the desktop application"},
		{"no fields", "[[counter]]\nclient = \"app:local\"\n", "fields must name"},
		{"unknown field", "[[counter]]\nclient = \"app:local\"\nfields = [\"certificates\"]\n", "unknown field"},
		{"unknown member", "[[counter]]\nclient = \"app:local\"\nfields = [\"identity.shoeSize\"]\n", "unknown identity member"},
		{"attestation with a partial identity", "[[counter]]\nclient = \"app:local\"\nfields = [\"identity.surname\"]\nattestation = true\n", "whole signed identity file"},
		{"twice", "[[counter]]\nclient = \"app:local\"\nfields = [\"identity\"]\n[[counter]]\nclient = \"app:local\"\nfields = [\"photo\"]\n", "paired twice"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			pol := write(t, tt.body)
			t.Setenv("EID_AGENT_POLICY", pol)
			_, err := Check(pol)
			var ce *Error
			if !errors.As(err, &ce) || !strings.Contains(ce.Error(), tt.msg) || ce.Problems[0].Line != 1 {
				t.Errorf("%v, want %q on line 1", err, tt.msg)
			}
		})
	}
}

// TestAttestationBudgetCeiling: the policy's chip budget is a ceiling the
// user's file can lower but not raise.
func TestAttestationBudgetCeiling(t *testing.T) {
	isolate(t)
	t.Setenv("EID_AGENT_POLICY", write(t, "[attestation]\nper_insertion = 3\n"))
	for _, tt := range []struct {
		user        string
		ins, hourly int
	}{
		{"", 3, 30},
		{"[attestation]\nper_insertion = 10\nper_origin_hourly = 50\n", 3, 50},
		{"[attestation]\nper_insertion = 2\n", 2, 30},
	} {
		c, err := Load(write(t, tt.user))
		if err != nil {
			t.Fatal(err)
		}
		if c.Attestation.PerInsertion != tt.ins || c.Attestation.PerOriginHourly != tt.hourly {
			t.Errorf("user %q: %+v, want %d/%d", tt.user, c.Attestation, tt.ins, tt.hourly)
		}
	}
	if _, err := Check(write(t, "[attestation]\n\nper_insertion = 5000\n")); err == nil || !strings.Contains(err.Error(), ":3: attestation.per_insertion") {
		t.Errorf("per_insertion 5000: %v", err)
	}
}
