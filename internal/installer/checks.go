package installer

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// Status of one check.
type Status string

const (
	OK   Status = "OK"
	Warn Status = "WARN" // works, but something is missing or will break soon
	Fail Status = "FAIL" // the agent cannot work until this is fixed
)

// Result of one check: what was found and, unless OK, how to fix it (a
// command to run or a package to install).
type Result struct {
	Name   string `json:"name"`
	Status Status `json:"status"`
	Detail string `json:"detail"`
	Fix    string `json:"fix,omitempty"`
}

// Check is one named check. Checks are plain functions over the probes
// they were built with, so tests run them against fakes.
type Check struct {
	Name string
	Run  func(ctx context.Context) Result
}

// RunChecks runs each check in order. A check's Name is filled in when
// its Result leaves it empty.
func RunChecks(ctx context.Context, checks []Check) []Result {
	out := make([]Result, 0, len(checks))
	for _, c := range checks {
		r := c.Run(ctx)
		if r.Name == "" {
			r.Name = c.Name
		}
		out = append(out, r)
	}
	return out
}

// AllOK reports whether every result is OK.
func AllOK(results []Result) bool {
	for _, r := range results {
		if r.Status != OK {
			return false
		}
	}
	return true
}

// Worst is the most serious status among results (OK for none).
func Worst(results []Result) Status {
	w := OK
	for _, r := range results {
		if r.Status == Fail {
			return Fail
		}
		if r.Status == Warn {
			w = Warn
		}
	}
	return w
}

// WriteText prints one line per check, "STATUS name: detail", and under
// each problem an indented "fix:" line.
func WriteText(w io.Writer, results []Result) error {
	width := 0
	for _, r := range results {
		width = max(width, len(r.Name))
	}
	for _, r := range results {
		if _, err := fmt.Fprintf(w, "%-4s  %-*s  %s\n", r.Status, width, r.Name, oneLine(r.Detail)); err != nil {
			return err
		}
		if r.Status != OK && r.Fix != "" {
			if _, err := fmt.Fprintf(w, "      %-*s  fix: %s\n", width, "", oneLine(r.Fix)); err != nil {
				return err
			}
		}
	}
	return nil
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// Report is the JSON form of a doctor run.
type DoctorReport struct {
	Version string   `json:"version"`
	OS      string   `json:"os"`
	Status  Status   `json:"status"` // the worst check
	Checks  []Result `json:"checks"`
}

// WriteJSON prints the report as indented JSON.
func WriteJSON(w io.Writer, version, goos string, results []Result) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(DoctorReport{Version: version, OS: goos, Status: Worst(results), Checks: results})
}
