package installer

import (
	"bytes"
	"context"
	"os/exec"
)

// Runner runs the platform's service-manager commands (systemctl,
// launchctl, schtasks, certutil, security). Tests hand in a fake or a
// runner limited to what works offline.
type Runner interface {
	Run(ctx context.Context, args []string) (output []byte, err error)
}

// ExecRunner runs commands with os/exec. Env, when not nil, is the
// complete environment of each command (for an install into another
// HOME); nil inherits this process's.
type ExecRunner struct {
	Env []string
}

// Run runs args[0] with the rest as arguments and returns its combined
// output. A missing program is an error wrapping exec.ErrNotFound.
func (r ExecRunner) Run(ctx context.Context, args []string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Env = r.Env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.Bytes(), err
}
