package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// BenchmarkDaemonResources measures, in one run, the agent (`run`, on
// PC/SC when the lab is up, else --simulate) and a baseline Go program
// that only listens on loopback (internal/idlebaseline):
//
//   - start-ms: from exec to the listening line;
//   - rss-KiB: resident memory after 2 s idle;
//   - idle-cpu-ms: CPU time used during IDLE (default 10 s) of idleness,
//     which shows busy polling (the agent blocks in SCardGetStatusChange).
//
// scripts/bench prints the agent/baseline ratios.
func BenchmarkDaemonResources(b *testing.B) {
	idle := 10 * time.Second
	if v := os.Getenv("IDLE"); v != "" {
		idle, _ = time.ParseDuration(v)
	}
	base := filepath.Join(b.TempDir(), "idlebaseline")
	if out, err := exec.Command("go", "build", "-o", base, "./internal/idlebaseline").CombinedOutput(); err != nil {
		b.Fatalf("%v\n%s", err, out)
	}
	home := b.TempDir()
	agentArgs := []string{binary, "run", "--listen", "127.0.0.1:0", "--log-level", "warn"}
	if os.Getenv("EID_LAB_SLOTS") == "" {
		agentArgs = append(agentArgs, "--simulate")
	}
	for _, tc := range []struct {
		name string
		argv []string
	}{{"agent", agentArgs}, {"baseline", []string{base}}} {
		b.Run(tc.name, func(b *testing.B) {
			var start, rss, cpu float64
			for b.Loop() {
				s, r, c := measureProcess(b, tc.argv, isolatedEnv(home), idle)
				start, rss, cpu = start+s, rss+r, cpu+c
			}
			n := float64(b.N)
			b.ReportMetric(start/n, "start-ms")
			b.ReportMetric(rss/n, "rss-KiB")
			b.ReportMetric(cpu/n, "idle-cpu-ms")
		})
	}
}

// measureProcess starts argv, waits for its "ws://" line, then samples
// its RSS and CPU time from /proc over idle, and stops it.
func measureProcess(b *testing.B, argv, env []string, idle time.Duration) (startMS, rssKiB, idleCPUms float64) {
	b.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}()
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if strings.Contains(sc.Text(), "ws://") {
			break
		}
	}
	startMS = float64(time.Since(t0).Microseconds()) / 1000
	go func() {
		for sc.Scan() {
		}
	}()
	time.Sleep(2 * time.Second)
	pid := cmd.Process.Pid
	cpu0 := procCPU(b, pid)
	time.Sleep(idle)
	idleCPUms = procCPU(b, pid) - cpu0
	rssKiB = procRSS(b, pid)
	return
}

// procCPU is utime+stime of pid in milliseconds.
func procCPU(b *testing.B, pid int) float64 {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		b.Fatal(err)
	}
	// Fields after the command name, which is in parentheses.
	f := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+2:]))
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) * 1000 / 100 // USER_HZ is 100 on Linux
}

func procRSS(b *testing.B, pid int) float64 {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			v, _ := strconv.ParseFloat(strings.Fields(line)[1], 64)
			return v
		}
	}
	b.Fatal("no VmRSS")
	return 0
}
