package web_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestBrowserSelfPageImpersonation (issue #13 item 1) in Chromium: another
// program serves a page at the agent's exact address while the agent is
// not running; the browser keeps it open; the real agent then starts on
// that address. The stale page must neither obtain the page key nor
// connect; the user's own visit must work (e2e/impersonation.mjs).
func TestBrowserSelfPageImpersonation(t *testing.T) {
	node := requireBrowser(t)
	port := freePort(t)
	impostor := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The opener policy the agent's page has too: the impostor's
		// windows of this origin then share a browsing context group with
		// the agent's page, the strongest position it can take.
		w.Header().Set("Cross-Origin-Opener-Policy", "same-origin")
		if r.URL.Path == "/demo/demo.js" {
			// The red team's cache poisoning: the agent's page loads this
			// very path; cached for a year, the impostor's script would
			// run inside the real page, with its key, after the swap.
			w.Header().Set("Content-Type", "text/javascript")
			w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
			fmt.Fprint(w, `if (/[?&]key=/.test(location.search)) { document.title = "PWNED"; }`)
			return
		}
		fmt.Fprint(w, `<!doctype html><title>eid-agent demo</title><p>impostor page<script type="module" src="/demo/demo.js"></script>`)
	})}
	for _, a := range []string{fmt.Sprintf("127.0.0.1:%d", port), fmt.Sprintf("[::1]:%d", port)} {
		l, err := net.Listen("tcp", a)
		if err != nil {
			t.Fatal(err)
		}
		go impostor.Serve(l) // Close closes its listeners too
	}
	defer impostor.Close()

	// Another site (localhost is another host than 127.0.0.1) that sends
	// the browser back to the agent's page.
	detour, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go http.Serve(detour, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, fmt.Sprintf("http://127.0.0.1:%d/", port), http.StatusFound)
	}))
	defer detour.Close()
	detourURL := fmt.Sprintf("http://localhost:%d/", detour.Addr().(*net.TCPAddr).Port)

	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "e2e/impersonation.mjs")
	cmd.Env = append(os.Environ(), fmt.Sprintf("EID_PORT=%d", port), "EID_DETOUR="+detourURL)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	sc := bufio.NewScanner(stdout)
	swapped := false
	for sc.Scan() {
		line := sc.Text()
		out.WriteString(line + "\n")
		if msg, ok := strings.CutPrefix(line, "step: "); ok {
			t.Log(msg)
		}
		if line == "swap" && !swapped {
			swapped = true
			impostor.Close() // its listeners too: the port is free
			startAgentOn(t, port, func(string) []string { return []string{"--simulate"} })
			fmt.Fprintln(stdin, "go")
			stdin.Close()
		}
	}
	err = cmd.Wait()
	if err != nil || !swapped || !strings.Contains(out.String(), "e2e: ok") {
		t.Fatalf("impersonation script: %v\n%s\n%s", err, out.String(), stderr.String())
	}
}
