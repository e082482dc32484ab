package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/eid-agent/eid-agent/internal/installer"
	"github.com/eid-agent/eid-agent/internal/lab"
)

// TestDoctorTrust: `doctor` lists every trust source the agent would use
// (the embedded roots, the agent's roots folder, the configuration's
// trust_roots) with the roots each gave, and the SHA-256 of each embedded
// root, the same values as the shared folder's root files hashed here; a
// file in the roots folder that is no certificate turns the line WARN and
// is named.
func TestDoctorTrust(t *testing.T) {
	shared := lab.SharedTrust(t)
	env, home := doctorEnv(t)
	cfgDir := filepath.Join(home, ".config", "eid-agent")
	rootsDir := filepath.Join(cfgDir, "roots")
	os.MkdirAll(rootsDir, 0o700)
	ct3 := filepath.Join(shared, "not-production", "belgium-root-ct3-TEST.pem")
	cfg := fmt.Sprintf("listen = [\"127.0.0.1:%d\"]\ntrust_roots = [%q]\n", freePort(t), ct3)
	os.WriteFile(filepath.Join(cfgDir, "config.toml"), []byte(cfg), 0o600)
	spec, _ := os.ReadFile(filepath.Join(shared, "not-production", "specimen-belgium-root-ca.pem"))
	os.WriteFile(filepath.Join(rootsDir, "specimen.pem"), spec, 0o600)

	check := func() installer.Result {
		t.Helper()
		r := runEnv(t, env, "doctor", "--json")
		var rep installer.DoctorReport
		if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
			t.Fatalf("%v: %s %s", err, r.stdout, r.stderr)
		}
		for _, c := range rep.Checks {
			if c.Name == "trust" {
				return c
			}
		}
		t.Fatalf("no trust check in %s", r.stdout)
		return installer.Result{}
	}
	c := check()
	t.Logf("%s %s", c.Status, c.Detail)
	// (a machine with the eID middleware adds its trust folder between
	// the embedded roots and the agent's folder)
	want := []string{"sources: embedded (7 roots), ", ", " + rootsDir + " (1 root), " + ct3 + " (1 root);"}
	roots, _ := filepath.Glob(filepath.Join(shared, "*.pem"))
	if len(roots) != 7 {
		t.Fatalf("%d root files in %s", len(roots), shared)
	}
	for _, f := range roots {
		b, _ := os.ReadFile(f)
		blk, _ := pem.Decode(b)
		sum := sha256.Sum256(blk.Bytes)
		want = append(want, "SHA-256 "+strings.ToUpper(hex.EncodeToString(sum[:])))
	}
	for _, w := range want {
		if !strings.Contains(c.Detail, w) {
			t.Errorf("trust detail lacks %q", w)
		}
	}
	if c.Status != installer.OK {
		t.Errorf("status %s", c.Status)
	}

	os.WriteFile(filepath.Join(rootsDir, "notes.pem"), []byte("not a certificate"), 0o600)
	c = check()
	if c.Status != installer.Warn || !strings.Contains(c.Detail, "notes.pem") || c.Fix == "" {
		t.Errorf("broken file: %+v", c)
	}
	if !strings.Contains(c.Detail, rootsDir+" (1 root)") {
		t.Errorf("the good file of the folder still counts: %s", c.Detail)
	}
}
