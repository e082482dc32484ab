package verify

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// pureGo are the packages a server links: they must build without cgo and
// must not reach PC/SC (github.com/ebfe/scard), so a Go back end can
// verify tokens and identity bundles on any platform, statically linked.
var pureGo = []string{
	"github.com/eid-agent/eid-agent/verify",
	"github.com/eid-agent/eid-agent/verify/redisstore",
	"github.com/eid-agent/eid-agent/card/eidfile",
	"github.com/eid-agent/eid-agent/cmd/eid-verify",
}

func TestNoCgo(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed for this test: %v", err)
	}
	// Every dependency outside the standard library, with its cgo files.
	// (The standard library's net and os/user have optional cgo parts that
	// CGO_ENABLED=0 replaces; the build below proves that works.)
	args := append([]string{"list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}} {{len .CgoFiles}}{{end}}"}, pureGo...)
	out, err := exec.Command(gobin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		if len(f) != 2 {
			continue
		}
		if strings.Contains(f[0], "ebfe/scard") {
			t.Errorf("depends on PC/SC through %s", f[0])
		}
		if f[1] != "0" {
			t.Errorf("%s has %s cgo files", f[0], f[1])
		}
	}
	build := exec.Command(gobin, append([]string{"build"}, pureGo...)...)
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("CGO_ENABLED=0 go build: %v\n%s", err, out)
	}
}
