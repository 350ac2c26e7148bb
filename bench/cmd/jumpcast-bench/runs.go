package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// streamResult is one `ssh PATH CMD` whose output was counted.
type streamResult struct {
	bytes int64
	start time.Time // before the ssh process started
	first time.Time // first output byte
	end   time.Time // EOF on the ssh client's stdout
}

// mbps is the throughput from the first byte to EOF, in MB/s (10^6 bytes):
// connection setup is measured on its own.
func (r streamResult) mbps() float64 {
	d := r.end.Sub(r.first).Seconds()
	if d <= 0 {
		return 0
	}
	return float64(r.bytes) / 1e6 / d
}

// sshClient runs the real OpenSSH client with the generated ssh_config.
type sshClient struct{ config string }

// stream runs `ssh [-tt] alias command` and counts what arrives on stdout
// (what `| wc -c` would). With tty its stdin is a pipe kept open until the
// command ends, so the remote side never sees an early EOF.
func (c sshClient) stream(ctx context.Context, alias string, tty bool, command string) (streamResult, error) {
	args := []string{"-F", c.config}
	if tty {
		args = append(args, "-tt")
	}
	args = append(args, alias, command)
	cmd := exec.CommandContext(ctx, "ssh", args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if tty {
		r, w, err := os.Pipe()
		if err != nil {
			return streamResult{}, fmt.Errorf("stdin pipe: %w", err)
		}
		defer func() { _ = w.Close() }()
		cmd.Stdin = r
		defer func() { _ = r.Close() }()
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return streamResult{}, fmt.Errorf("stdout pipe: %w", err)
	}
	res := streamResult{start: time.Now()}
	if err := cmd.Start(); err != nil {
		return res, fmt.Errorf("start ssh: %w", err)
	}
	buf := make([]byte, 256<<10)
	for {
		n, err := out.Read(buf)
		if n > 0 {
			if res.bytes == 0 {
				res.first = time.Now()
			}
			res.bytes += int64(n)
		}
		if err != nil {
			res.end = time.Now()
			if !errors.Is(err, io.EOF) {
				_ = cmd.Process.Kill()
			}
			break
		}
	}
	if err := cmd.Wait(); err != nil {
		return res, fmt.Errorf("ssh %s %q: %w: %s", alias, command, err, bytes.TrimSpace(stderr.Bytes()))
	}
	return res, nil
}

// run runs `ssh alias command` with stdin from /dev/null and returns how
// long the whole client took.
func (c sshClient) run(ctx context.Context, alias, command string) (time.Duration, error) {
	cmd := exec.CommandContext(ctx, "ssh", "-F", c.config, alias, command)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	d := time.Since(start)
	if err != nil {
		return d, fmt.Errorf("ssh %s %q: %w: %s", alias, command, err, bytes.TrimSpace(out.Bytes()))
	}
	return d, nil
}

// parallel runs n copies of `ssh alias command` at once and returns the
// wall time until the last one ended and the bytes each received.
func (c sshClient) parallel(ctx context.Context, alias, command string, n int) (time.Duration, []int64, error) {
	got := make([]int64, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range n {
		wg.Add(1)
		go func() { // owner: this call; ends when its ssh ends
			defer wg.Done()
			r, err := c.stream(ctx, alias, false, command)
			got[i], errs[i] = r.bytes, err
		}()
	}
	wg.Wait()
	return time.Since(start), got, errors.Join(errs...)
}

// memSampler polls a process tree's memory until stopped and keeps the peaks.
type memSampler struct {
	stop chan struct{}
	done chan struct{}
	// peakRSS and peakPSS are written by the sampling goroutine and read
	// only after done is closed.
	peakRSS, peakPSS int64
	err              error
}

// sampleMem starts sampling tree every interval.
func sampleMem(tree *procTree, interval time.Duration) *memSampler {
	s := &memSampler{stop: make(chan struct{}), done: make(chan struct{})}
	go func() { // owner: the sampler; ends when stop is closed
		defer close(s.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			rss, pss, err := tree.Mem()
			if err != nil {
				s.err = err
			}
			s.peakRSS, s.peakPSS = max(s.peakRSS, rss), max(s.peakPSS, pss)
			select {
			case <-s.stop:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

// Stop ends sampling and returns the peaks in bytes.
func (s *memSampler) Stop() (rss, pss int64, err error) {
	close(s.stop)
	<-s.done
	return s.peakRSS, s.peakPSS, s.err
}
