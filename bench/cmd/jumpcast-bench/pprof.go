package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// startPprof fetches Go profiles of the recording bastion from its admin
// socket (<data_dir>/admin.sock, which serves /debug/pprof/) during the
// first run of phase, when -pprof is set: a CPU profile of the next
// -pprof-seconds, then a heap profile (in use at the last GC) and the
// goroutine counts, taken when the CPU profile ends — inside the phase when
// the phase lasts longer. The returned function waits for the fetches;
// call it when the phase ends. Files: DIR/<phase>-{cpu,heap}.pprof,
// DIR/<phase>-memstats.txt and DIR/<phase>-goroutines.txt.
func (b *bench) startPprof(p *benchPath, phase string) func() {
	if b.o.pprofDir == "" || p.name != pathRec || b.pprofDone[phase] {
		return func() {}
	}
	b.pprofDone[phase] = true
	if err := os.MkdirAll(b.o.pprofDir, 0o755); err != nil {
		b.log("pprof: %v (no profile)", err)
		return func() {}
	}
	sock := filepath.Join(p.bastion.dataDir, "admin.sock")
	client := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		},
	}}
	secs := b.o.pprofSeconds
	done := make(chan struct{})
	go func() { // owner: startPprof's caller, which waits on done
		defer close(done)
		for _, f := range []struct{ path, file string }{
			{"/debug/pprof/profile?seconds=" + strconv.Itoa(secs), phase + "-cpu.pprof"},
			{"/debug/pprof/heap", phase + "-heap.pprof"},
			{"/debug/pprof/heap?debug=1", phase + "-memstats.txt"}, // runtime.MemStats at its end
			{"/debug/pprof/goroutine?debug=1", phase + "-goroutines.txt"},
		} {
			if err := fetchTo(client, "http://jumpcast"+f.path, filepath.Join(b.o.pprofDir, f.file), secs); err != nil {
				b.log("pprof: %s: %v", f.path, err)
				return
			}
		}
		b.log("pprof: %s profiles of %s (pid %d) in %s", phase, p.name, p.bastion.pid, b.o.pprofDir)
	}()
	time.Sleep(100 * time.Millisecond) // the profile starts before the phase does
	return func() { <-done }
}

// fetchTo saves one admin-socket response to path.
func fetchTo(c *http.Client, url, path string, secs int) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(secs+30)*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %s", resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}
