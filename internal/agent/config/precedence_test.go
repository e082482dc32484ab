package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestPrecedence: defaults < policy < user file < environment < flags,
// except what the policy adds to (origins) or caps (attestation); the
// state folder only supplies the paths nobody set.
func TestPrecedence(t *testing.T) {
	type view struct {
		Listen       []string
		Origins      []string
		Simulate     bool
		LogLevel     string
		PerInsertion int
		StateDir     string
		Audit        string
		Journal      string
	}
	const (
		pol = "https://policy.example"
		usr = "https://user.example"
		env = "https://env.example"
		flg = "https://flag.example"
	)
	tests := []struct {
		name         string
		policy, user string
		env          map[string]string
		flags        []Setting
		check        func(v view) bool
	}{
		{name: "defaults", check: func(v view) bool {
			return reflect.DeepEqual(v.Listen, []string{"127.0.0.1:8877"}) && v.LogLevel == "info" && !v.Simulate && v.PerInsertion == 5 && v.Origins == nil
		}},
		{name: "policy alone", policy: "allowed_origins = [\"" + pol + "\"]\n[attestation]\nper_insertion = 3\n", check: func(v view) bool {
			return reflect.DeepEqual(v.Origins, []string{pol}) && v.PerInsertion == 3
		}},
		{name: "user alone", user: "listen = [\"127.0.0.1:1\"]\nsimulate = true\nlog_level = \"warn\"\nallowed_origins = [\"" + usr + "\"]\n", check: func(v view) bool {
			return reflect.DeepEqual(v.Listen, []string{"127.0.0.1:1"}) && v.Simulate && v.LogLevel == "warn" && reflect.DeepEqual(v.Origins, []string{usr})
		}},
		{name: "environment alone", env: map[string]string{EnvListen: "127.0.0.1:2", EnvSimulate: "1", EnvLogLevel: "error", EnvAllowedOrigins: env}, check: func(v view) bool {
			return reflect.DeepEqual(v.Listen, []string{"127.0.0.1:2"}) && v.Simulate && v.LogLevel == "error" && reflect.DeepEqual(v.Origins, []string{env})
		}},
		{name: "flags alone", flags: []Setting{{"listen", "127.0.0.1:3"}, {"listen", "[::1]:3"}, {"simulate", "true"}, {"log_level", "debug"}, {"allowed_origins", flg}}, check: func(v view) bool {
			return reflect.DeepEqual(v.Listen, []string{"127.0.0.1:3", "[::1]:3"}) && v.Simulate && v.LogLevel == "debug" && reflect.DeepEqual(v.Origins, []string{flg})
		}},
		{name: "user over policy: origins add, budget only lowered", policy: "allowed_origins = [\"" + pol + "\"]\n[attestation]\nper_insertion = 3\n",
			user: "allowed_origins = [\"" + usr + "\"]\n[attestation]\nper_insertion = 50\n", check: func(v view) bool {
				return reflect.DeepEqual(v.Origins, []string{pol, usr}) && v.PerInsertion == 3
			}},
		{name: "user lowers the policy's budget", policy: "[attestation]\nper_insertion = 3\n", user: "[attestation]\nper_insertion = 2\n", check: func(v view) bool {
			return v.PerInsertion == 2
		}},
		{name: "environment over user", user: "listen = [\"127.0.0.1:1\"]\nsimulate = true\nlog_level = \"warn\"\nallowed_origins = [\"" + usr + "\"]\n",
			env: map[string]string{EnvListen: "127.0.0.1:2", EnvSimulate: "0", EnvLogLevel: "error", EnvAllowedOrigins: env}, check: func(v view) bool {
				return reflect.DeepEqual(v.Listen, []string{"127.0.0.1:2"}) && !v.Simulate && v.LogLevel == "error" && reflect.DeepEqual(v.Origins, []string{usr, env})
			}},
		{name: "flags over environment", env: map[string]string{EnvListen: "127.0.0.1:2", EnvSimulate: "1", EnvLogLevel: "error", EnvAllowedOrigins: env},
			flags: []Setting{{"listen", "127.0.0.1:3"}, {"simulate", "false"}, {"log_level", "debug"}, {"allowed_origins", flg}}, check: func(v view) bool {
				return reflect.DeepEqual(v.Listen, []string{"127.0.0.1:3"}) && !v.Simulate && v.LogLevel == "debug" && reflect.DeepEqual(v.Origins, []string{env, flg})
			}},
		{name: "an empty text flag sets nothing", env: map[string]string{EnvLogLevel: "error"}, flags: []Setting{{"log_level", ""}}, check: func(v view) bool {
			return v.LogLevel == "error"
		}},
		{name: "every source", policy: "allowed_origins = [\"" + pol + "\"]\n", user: "allowed_origins = [\"" + usr + "\"]\nlog_level = \"warn\"\n",
			env: map[string]string{EnvAllowedOrigins: env, EnvLogLevel: "error"}, flags: []Setting{{"allowed_origins", flg}, {"log_level", "debug"}}, check: func(v view) bool {
				return reflect.DeepEqual(v.Origins, []string{pol, usr, env, flg}) && v.LogLevel == "debug"
			}},

		// The state folder supplies the journals' paths only when no
		// source sets them.
		{name: "state_dir in the file", user: "state_dir = \"/u\"\n", check: func(v view) bool {
			return v.StateDir == "/u" && v.Audit == "/u/audit.jsonl" && v.Journal == "/u/proofs.jsonl"
		}},
		{name: "state dir from the environment", env: map[string]string{EnvStateDir: "/e"}, check: func(v view) bool {
			return v.StateDir == "/e" && v.Audit == "/e/audit.jsonl" && v.Journal == "/e/proofs.jsonl"
		}},
		{name: "--state-dir", flags: []Setting{{"state_dir", "/f"}}, check: func(v view) bool {
			return v.StateDir == "/f" && v.Audit == "/f/audit.jsonl" && v.Journal == "/f/proofs.jsonl"
		}},
		{name: "--state-dir over the environment and the file", user: "state_dir = \"/u\"\n", env: map[string]string{EnvStateDir: "/e"}, flags: []Setting{{"state_dir", "/f"}}, check: func(v view) bool {
			return v.StateDir == "/f" && v.Audit == "/f/audit.jsonl" && v.Journal == "/f/proofs.jsonl"
		}},
		{name: "environment state dir over the file's", user: "state_dir = \"/u\"\n", env: map[string]string{EnvStateDir: "/e"}, check: func(v view) bool {
			return v.StateDir == "/e" && v.Audit == "/e/audit.jsonl"
		}},
		{name: "explicit audit.path wins over --state-dir", user: "[audit]\npath = \"/a/audit.jsonl\"\n", flags: []Setting{{"state_dir", "/f"}}, check: func(v view) bool {
			return v.StateDir == "/f" && v.Audit == "/a/audit.jsonl" && v.Journal == "/f/proofs.jsonl"
		}},
		{name: "explicit journal.path wins over --state-dir", user: "[journal]\npath = \"/j/proofs.jsonl\"\n", flags: []Setting{{"state_dir", "/f"}}, check: func(v view) bool {
			return v.StateDir == "/f" && v.Audit == "/f/audit.jsonl" && v.Journal == "/j/proofs.jsonl"
		}},
		{name: "explicit paths win over the environment's state dir", user: "[audit]\npath = \"/a/x\"\n[journal]\npath = \"/j/y\"\n", env: map[string]string{EnvStateDir: "/e"}, check: func(v view) bool {
			return v.StateDir == "/e" && v.Audit == "/a/x" && v.Journal == "/j/y"
		}},
		{name: "explicit paths win over the file's state_dir", user: "state_dir = \"/u\"\n[audit]\npath = \"/a/x\"\n", check: func(v view) bool {
			return v.StateDir == "/u" && v.Audit == "/a/x" && v.Journal == "/u/proofs.jsonl"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			isolate(t)
			dir := t.TempDir()
			if tt.policy != "" {
				p := filepath.Join(dir, "policy.toml")
				if err := os.WriteFile(p, []byte(tt.policy), 0o644); err != nil {
					t.Fatal(err)
				}
				t.Setenv("EID_AGENT_POLICY", p)
			}
			user := ""
			if tt.user != "" {
				user = write(t, tt.user)
			}
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			c, err := Load(user, tt.flags...)
			if err != nil {
				t.Fatal(err)
			}
			v := view{c.Listen, c.AllowedOrigins, c.Simulate, c.LogLevel, c.Attestation.PerInsertion, c.StateDir, c.Audit.Path, c.Journal.Path}
			if !tt.check(v) {
				t.Errorf("got %+v", v)
			}
		})
	}
}

// TestFlagProblems: a bad flag value is reported as the flag's, with the
// other problems of the command line.
func TestFlagProblems(t *testing.T) {
	isolate(t)
	_, err := Load("", Setting{"grant", "https://a.example"}, Setting{"listen", "0.0.0.0:1"})
	var ce *Error
	if !errors.As(err, &ce) || len(ce.Problems) != 2 ||
		ce.Problems[0].String() != `flags: --grant: "https://a.example": want ORIGIN=PERMS` ||
		!strings.Contains(ce.Problems[1].String(), "flags: listen:") {
		t.Errorf("got %v", err)
	}
	if _, err := Load("", Setting{"audit.path", "/x"}); !errors.As(err, &ce) || !strings.Contains(err.Error(), "not a key a flag sets") {
		t.Errorf("a key without a flag: %v", err)
	}
}
