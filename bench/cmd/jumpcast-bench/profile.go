package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// startProfile starts `perf record` on the recording bastion during the
// first PTY text bulk run, when -perf is set, and returns the function that
// stops it. perf samples the live process from outside, so the binary
// under test is the product as built; it must not be stripped for perf to
// name Go functions (make bench-profile builds such a binary). For Go's
// own CPU and heap profiles see -pprof (pprof.go).
func (b *bench) startProfile(p *benchPath, k bulkKind) func() {
	if b.o.perfOut == "" || p.name != pathRec || !k.tty || b.profiled {
		return func() {}
	}
	b.profiled = true
	if err := os.MkdirAll(filepath.Dir(b.o.perfOut), 0o755); err != nil {
		b.log("perf: %v (no profile)", err)
		return func() {}
	}
	cmd := exec.Command("perf", "record", "-F", "999", "-g", "-o", b.o.perfOut, "-p", strconv.Itoa(p.bastion.pid))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		b.log("perf: %v (no profile)", err)
		return func() {}
	}
	time.Sleep(200 * time.Millisecond) // perf attaches before the run starts
	return func() {
		_ = cmd.Process.Signal(syscall.SIGINT)
		done := make(chan error, 1) // the Wait goroutine's only result
		go func() { done <- cmd.Wait() }()
		var err error
		select {
		case err = <-done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			err = fmt.Errorf("perf did not stop within 30s: %w", <-done)
		}
		// perf stopped by SIGINT may exit non-zero after writing a good file.
		if st, serr := os.Stat(b.o.perfOut); serr != nil || st.Size() == 0 {
			b.log("perf: no profile (%v, %v):\n%s", err, serr, out.String())
			return
		}
		b.log("perf: profile of %s (pid %d) during %s in %s", p.name, p.bastion.pid, k.metric, b.o.perfOut)
		if b.o.verbose {
			fmt.Fprint(os.Stderr, out.String())
		}
	}
}
