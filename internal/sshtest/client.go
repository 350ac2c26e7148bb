package sshtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// ClientConfig is an ssh_config for the real OpenSSH clients, in its own folder.
// Use it as `ssh -F ConfigPath -p PORT user@127.0.0.1 …` (scp/sftp: `-F ConfigPath
// -P PORT`).
type ClientConfig struct {
	// Dir is the folder of the config and known_hosts.
	Dir string
	// ConfigPath is the ssh_config file.
	ConfigPath string
	// KnownHostsPath is the UserKnownHostsFile; empty at first.
	KnownHostsPath string
}

// NewClientConfig writes an ssh_config into a fresh t.TempDir(): the identity
// key.PrivatePath only (IdentitiesOnly yes), a known_hosts file of its own with
// StrictHostKeyChecking accept-new (see TrustHostKey to pre-seed a key), BatchMode
// yes, ConnectTimeout 10, LogLevel ERROR, no keepalives, no connection sharing.
//
// key may be nil: then no identity file is set and IdentitiesOnly is off, so the
// client uses the agent in SSH_AUTH_SOCK (see Agent.Env and RunEnv).
//
// extra lines go first, so they override these settings (for ssh the first value
// of a keyword wins); a "Host" or "Match" line in extra starts a block that ends
// where the defaults begin, under "Host *".
func NewClientConfig(t testing.TB, key *KeyPair, extra ...string) *ClientConfig {
	t.Helper()
	dir := t.TempDir()
	c := &ClientConfig{
		Dir:            dir,
		ConfigPath:     filepath.Join(dir, "ssh_config"),
		KnownHostsPath: filepath.Join(dir, "known_hosts"),
	}
	lines := append([]string(nil), extra...)
	lines = append(lines, "Host *")
	if key != nil {
		lines = append(lines, "  IdentityFile "+key.PrivatePath, "  IdentitiesOnly yes")
	} else {
		lines = append(lines, "  IdentitiesOnly no")
	}
	lines = append(lines,
		"  UserKnownHostsFile "+c.KnownHostsPath,
		"  GlobalKnownHostsFile /dev/null",
		"  StrictHostKeyChecking accept-new",
		"  UpdateHostKeys no",
		"  BatchMode yes",
		"  ConnectTimeout 10",
		"  LogLevel ERROR",
		"  ServerAliveInterval 0",
		"  ControlMaster no",
		"  ControlPath none",
	)
	writeFile(t, c.ConfigPath, []byte(strings.Join(lines, "\n")+"\n"))
	writeFile(t, c.KnownHostsPath, nil)
	return c
}

// TrustHostKey adds key for host:port to the known_hosts file, so the client
// accepts exactly that key (and refuses another one: "host key changed").
func (c *ClientConfig) TrustHostKey(t testing.TB, addr string, key gossh.PublicKey) {
	t.Helper()
	f, err := os.OpenFile(c.KnownHostsPath, os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatalf("open known_hosts: %v", err)
	}
	_, err = fmt.Fprintln(f, knownhosts.Line([]string{knownhosts.Normalize(addr)}, key))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatalf("write known_hosts: %v", err)
	}
}

// SSHCommand is "ssh -F CONFIG -p PORT", for rsync -e and similar.
func (c *ClientConfig) SSHCommand(port int) string {
	return "ssh -F " + c.ConfigPath + " -p " + strconv.Itoa(port)
}

// Run runs name with args, stdin (nil: /dev/null) and this process's environment,
// and returns its stdout, stderr and exit code. A non-zero exit is not an error
// (code is -1 when the process was killed by a signal); err is set when the
// program could not run or ctx ended first. The program runs in its own process
// group, which is killed (and only it) when ctx ends.
func Run(ctx context.Context, stdin io.Reader, name string, args ...string) (stdout, stderr []byte, code int, err error) {
	return RunEnv(ctx, nil, stdin, name, args...)
}

// RunEnv is Run with env ("NAME=value") added to this process's environment.
func RunEnv(ctx context.Context, env []string, stdin io.Reader, name string, args ...string) (stdout, stderr []byte, code int, err error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = stdin
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 2 * time.Second // a grandchild holding our pipes cannot hang Run
	runErr := cmd.Run()
	if ctx.Err() != nil {
		return out.Bytes(), errOut.Bytes(), -1, fmt.Errorf("run %s: %w", name, ctx.Err())
	}
	var exitErr *exec.ExitError
	if errors.As(runErr, &exitErr) {
		return out.Bytes(), errOut.Bytes(), exitErr.ExitCode(), nil
	}
	if runErr != nil {
		return out.Bytes(), errOut.Bytes(), -1, fmt.Errorf("run %s: %w", name, runErr)
	}
	return out.Bytes(), errOut.Bytes(), 0, nil
}

// Agent is a real ssh-agent started by the test, stopped by t.Cleanup.
type Agent struct {
	// Socket is the agent's SSH_AUTH_SOCK (in a short temporary folder, since unix
	// socket paths are limited to 108 bytes).
	Socket string
}

// Env is the environment entry that points a client at the agent.
func (a *Agent) Env() []string { return []string{"SSH_AUTH_SOCK=" + a.Socket} }

// StartAgent starts `ssh-agent -D -a SOCKET` and adds keys with ssh-add.
func StartAgent(t testing.TB, keys ...*KeyPair) *Agent {
	t.Helper()
	RequireBinary(t, "ssh-agent", "ssh-add")
	dir, err := os.MkdirTemp("", "sshtest-agent")
	if err != nil {
		t.Fatalf("agent folder: %v", err)
	}
	a := &Agent{Socket: filepath.Join(dir, "agent.sock")}
	var log SyncBuffer
	cmd := exec.Command("ssh-agent", "-D", "-a", a.Socket)
	cmd.Stdout, cmd.Stderr = &log, &log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		_ = os.RemoveAll(dir)
		t.Fatalf("start ssh-agent: %v", err)
	}
	exited := make(chan struct{})
	go func() { // owner: the Agent; ends when ssh-agent exits at cleanup
		_ = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		_ = os.RemoveAll(dir)
	})
	if err := waitUnixSocket(a.Socket, exited, 10*time.Second); err != nil {
		t.Fatalf("ssh-agent: %v\n%s", err, log.String())
	}
	for _, k := range keys {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, stderr, code, err := RunEnv(ctx, a.Env(), nil, "ssh-add", k.PrivatePath)
		cancel()
		if err != nil || code != 0 {
			t.Fatalf("ssh-add %s: exit %d, %v: %s", k.PrivatePath, code, err, stderr)
		}
	}
	return a
}

// waitUnixSocket waits until path accepts connections, the process exits or
// timeout passes.
func waitUnixSocket(path string, exited <-chan struct{}, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.Dial("unix", path)
		if err == nil {
			return c.Close()
		}
		select {
		case <-exited:
			return fmt.Errorf("exited before listening on %s", path)
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not listening on %s after %v: %w", path, timeout, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// ConnEnds reports whether c's connection ends within d. Its goroutine
// ends when c closes, at the latest when the test's cleanup closes it.
func ConnEnds(c *gossh.Client, d time.Duration) bool {
	done := make(chan struct{})
	go func() { // owner: the caller's test; ends when c closes
		_ = c.Wait()
		close(done)
	}()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-t.C:
		return false
	}
}
