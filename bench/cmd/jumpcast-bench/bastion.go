package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"
)

// bastion is a jumpcast (or jumpcast-norec) child process.
type bastion struct {
	addr    string        // SSH listen address, HOST:PORT
	dataDir string        // its data_dir
	pid     int           // its process id
	logPath string        // its stderr
	done    chan struct{} // closed when the process has exited
}

// welcomeRE matches the first line both bastions print once they listen.
var welcomeRE = regexp.MustCompile(`SSH on (\S+), web on (\S+),`)

// bastionConfig is what writeBastionConfig needs.
type bastionConfig struct {
	dataDir      string
	hostKey      string            // private host key file
	identityFile string            // upstream identity (bastion-held key)
	adminKey     string            // alice's authorized_keys line
	remoteUser   string            // the user alice may be on the targets
	targets      map[string]string // alias → address
	reuseIdle    string            // upstream.reuse_idle; "" leaves the default
	window       string            // upstream.channel_window; "" leaves the default
}

// writeBastionConfig writes a jumpcast config file next to the data folder:
// one user, alice, who may reach every target as remoteUser with the
// bastion-held identity. Everything else is the product's default, except
// min_free_space (the benchmark's own recordings may be large) and
// max_unauthenticated: one address may hold a quarter of those slots, and
// the parallel phase opens 50 connections from 127.0.0.1 at once (as 50
// admins behind one NAT would).
func writeBastionConfig(c bastionConfig) (string, error) {
	var targets strings.Builder
	for alias, addr := range c.targets {
		fmt.Fprintf(&targets, "  %s:\n    address: %q\n", alias, addr)
	}
	var reuse string
	if c.reuseIdle != "" {
		reuse = "\n  reuse_idle: " + c.reuseIdle
	}
	if c.window != "" {
		reuse += "\n  channel_window: " + c.window
	}
	cfg := fmt.Sprintf(`data_dir: %q
ssh:
  listen: "127.0.0.1:0"
  host_keys: [%q]
  max_unauthenticated: 256
  shutdown_grace: 2s
web:
  listen: "127.0.0.1:0"
recording:
  min_free_space: 1MiB
upstream:
  identity_files: [%q]
  dial_timeout: 5s%s
log:
  format: json
users:
  alice:
    keys: [%q]
    allow:
      - targets: ["*"]
        as: [%q]
targets:
%s`, c.dataDir, c.hostKey, c.identityFile, reuse, c.adminKey, c.remoteUser, targets.String())
	p := filepath.Join(filepath.Dir(c.dataDir), filepath.Base(c.dataDir)+".yaml")
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		return "", fmt.Errorf("write bastion config: %w", err)
	}
	return p, nil
}

// startBastion runs bin with args, its stderr in logPath, and waits (up to
// 30 s) for its welcome line. The process is stopped by tb's cleanup:
// SIGTERM, then SIGKILL after 10 s, by its own process id.
func startBastion(tb *fixtureTB, bin string, args []string, dataDir, logPath string) *bastion {
	logf, err := os.Create(logPath)
	if err != nil {
		tb.Fatalf("bastion log: %v", err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stderr = logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatalf("bastion stdout: %v", err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start %s: %v", bin, err)
	}
	b := &bastion{dataDir: dataDir, pid: cmd.Process.Pid, logPath: logPath, done: make(chan struct{})}
	go func() { // owner: the bastion; ends when the child exits
		_ = cmd.Wait()
		_ = logf.Close()
		close(b.done)
	}()
	tb.Cleanup(func() { b.stop(cmd) })

	lines := make(chan string, 16)
	go func() { // owner: reads the child's stdout until it closes, dropping lines nobody waits for
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default:
			}
		}
		close(lines)
	}()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				tb.Fatalf("%s exited before it listened:\n%s", bin, tail(logPath))
			}
			if m := welcomeRE.FindStringSubmatch(line); m != nil {
				b.addr = m[1]
				return b
			}
		case <-deadline:
			tb.Fatalf("%s did not listen within 30s:\n%s", bin, tail(logPath))
		}
	}
}

// stop sends SIGTERM and waits, then SIGKILL.
func (b *bastion) stop(cmd *exec.Cmd) {
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-b.done:
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-b.done
	}
}

// alive reports an error if the bastion has exited.
func (b *bastion) alive() error {
	select {
	case <-b.done:
		return fmt.Errorf("bastion exited:\n%s", tail(b.logPath))
	default:
		return nil
	}
}

// tail returns the last 20 lines of a log file.
func tail(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > 20 {
		lines = lines[len(lines)-20:]
	}
	return strings.Join(lines, "\n")
}

// dirSize is the total size of the regular files under dir.
func dirSize(dir string) (int64, error) {
	var total int64
	err := filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			info, err := d.Info()
			if err != nil {
				return err
			}
			total += info.Size()
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("size of %s: %w", dir, err)
	}
	return total, nil
}
