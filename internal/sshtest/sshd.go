package sshtest

import (
	"bytes"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"
)

// SSHDPath is the OpenSSH server that StartSSHD runs; sshd requires an absolute path.
const SSHDPath = "/usr/sbin/sshd"

// SSHDOptions configures StartSSHD.
type SSHDOptions struct {
	// AuthorizedKeys may log in as any user the test process can become (root in
	// CI). Empty: nobody can log in.
	AuthorizedKeys []gossh.PublicKey
	// ExtraConfig lines are written before the defaults, so they override them
	// (for sshd the first value of a keyword wins). Lines from the first one that
	// starts with "Match" on are written after the defaults.
	ExtraConfig []string
}

// SSHD is a real OpenSSH sshd listening on 127.0.0.1, with its own config, host
// key and authorized_keys in Dir; the system configuration is not used. It is
// stopped by t.Cleanup, which kills the listener and its per-connection children,
// by process id only.
type SSHD struct {
	// Addr is "127.0.0.1:PORT".
	Addr string
	// Port is the listening port; Restart and RotateHostKey keep it.
	Port int
	// HostKey is the current ed25519 host public key.
	HostKey gossh.PublicKey
	// HostKeyPath is the host private key file (its public key is HostKeyPath+".pub").
	HostKeyPath string
	// Dir holds sshd_config, the host key, authorized_keys and the pid file.
	Dir string

	opts       SSHDOptions
	configPath string
	log        SyncBuffer // sshd's stderr and stdout over all its runs

	mu     sync.Mutex    // guards cmd and exited
	cmd    *exec.Cmd     // the running listener, nil when stopped
	exited chan struct{} // closed when cmd was reaped
}

// StartSSHD starts sshd on a free loopback port and waits until it listens.
func StartSSHD(t testing.TB, opts SSHDOptions) *SSHD {
	t.Helper()
	RequireBinary(t, SSHDPath)
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil { // sshd's privilege separation folder
		t.Fatalf("sshd: create /run/sshd: %v", err)
	}
	dir := t.TempDir()
	s := &SSHD{
		Dir:         dir,
		HostKeyPath: filepath.Join(dir, "ssh_host_ed25519_key"),
		opts:        opts,
		configPath:  filepath.Join(dir, "sshd_config"),
	}
	s.writeHostKey(t)
	if err := os.Mkdir(s.homeDir(), 0o700); err != nil {
		t.Fatalf("sshd: %v", err)
	}
	var lines []string
	for _, k := range opts.AuthorizedKeys {
		lines = append(lines, authorizedLine(k, "sshtest"))
	}
	writeFile(t, filepath.Join(dir, "authorized_keys"), []byte(strings.Join(lines, "\n")+"\n"))
	t.Cleanup(s.cleanup)

	var err error
	for range 5 { // another process may take the port between probe and bind
		var port int
		if port, err = freePort(); err != nil {
			break
		}
		if err = s.start(port); err == nil {
			return s
		}
	}
	t.Fatalf("sshd: %v\n%s", err, s.Log())
	return nil
}

// Log returns everything sshd wrote to stderr so far (LogLevel VERBOSE), for
// debugging a failing test.
func (s *SSHD) Log() string { return s.log.String() }

// User is the login user to use: the current user (root in CI).
func (s *SSHD) User() string { return currentUser() }

// Stop stops the listener (SIGTERM, then SIGKILL after 5 s) and waits for it, so
// new connections are refused. Connections already open keep their own sshd
// process, as with a real sshd restart. Stop on a stopped SSHD does nothing.
func (s *SSHD) Stop() {
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
	}
}

// Restart stops sshd and starts it again on the same port with the same keys.
func (s *SSHD) Restart(t testing.TB) {
	t.Helper()
	s.Stop()
	var err error
	for range 20 { // the port is ours; a failed bind here is transient
		if err = s.start(s.Port); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("sshd restart on port %d: %v\n%s", s.Port, err, s.Log())
}

// RotateHostKey replaces the host key with a new ed25519 key and restarts sshd on
// the same port, so clients that pinned the old key see "host key changed".
func (s *SSHD) RotateHostKey(t testing.TB) {
	t.Helper()
	s.writeHostKey(t)
	s.Restart(t)
}

// writeHostKey generates a host key and writes it to HostKeyPath(.pub).
func (s *SSHD) writeHostKey(t testing.TB) {
	t.Helper()
	_, signer, block := newEd25519(t)
	writeFile(t, s.HostKeyPath, pem.EncodeToMemory(block))
	writeFile(t, s.HostKeyPath+".pub", []byte(authorizedLine(signer.PublicKey(), "sshtest-host")+"\n"))
	s.HostKey = signer.PublicKey()
}

// start writes the config for port, runs sshd and waits until it listens there.
func (s *SSHD) start(port int) error {
	if err := os.WriteFile(s.configPath, []byte(s.config(port)), 0o600); err != nil {
		return fmt.Errorf("write sshd_config: %w", err)
	}
	mark := s.log.Len()
	cmd := exec.Command(SSHDPath, "-D", "-e", "-f", s.configPath)
	cmd.Stdout, cmd.Stderr = &s.log, &s.log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", SSHDPath, err)
	}
	exited := make(chan struct{})
	go func() { // owner: the SSHD; ends when sshd exits (Stop waits for it)
		_ = cmd.Wait()
		close(exited)
	}()
	s.mu.Lock()
	s.cmd, s.exited = cmd, exited
	s.mu.Unlock()

	ready := fmt.Sprintf("Server listening on 127.0.0.1 port %d.", port)
	deadline := time.After(10 * time.Second)
	for !strings.Contains(s.log.From(mark), ready) {
		select {
		case <-exited:
			s.mu.Lock()
			s.cmd = nil
			s.mu.Unlock()
			return fmt.Errorf("sshd on port %d exited: %s", port, strings.TrimSpace(s.log.From(mark)))
		case <-deadline:
			s.Stop()
			return fmt.Errorf("sshd on port %d: not listening after 10s", port)
		case <-time.After(10 * time.Millisecond):
		}
	}
	s.Port, s.Addr = port, net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	return nil
}

// config is the sshd_config text for port.
func (s *SSHD) config(port int) string {
	var head, tail []string
	for i, l := range s.opts.ExtraConfig {
		if strings.HasPrefix(strings.ToLower(strings.TrimSpace(l)), "match") {
			tail = s.opts.ExtraConfig[i:]
			break
		}
		head = append(head, l)
	}
	lines := append(head,
		fmt.Sprintf("ListenAddress 127.0.0.1:%d", port),
		"HostKey "+s.HostKeyPath,
		"PidFile "+filepath.Join(s.Dir, "sshd.pid"),
		"AuthorizedKeysFile "+filepath.Join(s.Dir, "authorized_keys"),
		"StrictModes no",
		"PermitRootLogin yes",
		"PubkeyAuthentication yes",
		"PasswordAuthentication no",
		"KbdInteractiveAuthentication no",
		"UsePAM no",
		"UseDNS no",
		"PrintMotd no",
		"PrintLastLog no",
		"X11Forwarding no",
		"Subsystem sftp internal-sftp",
		"AllowAgentForwarding yes",
		"AcceptEnv LANG LC_* TERM TZ COLORTERM JUMPCAST_TEST_*",
		"MaxSessions 20",
		"MaxStartups 200",
		"LogLevel VERBOSE",
		// The target's shells read their startup files from the fixture's
		// own empty home, not from the machine's: a login user's ~/.bashrc
		// (root's, on CI) may run anything — pyenv's rehash there waits
		// 60 s on a lock file that a killed session left behind, and every
		// ssh test through this sshd would hang. sshd applies SetEnv after
		// it sets HOME; it still changes into the passwd home directory.
		"SetEnv HOME="+s.homeDir(),
	)
	return strings.Join(append(lines, tail...), "\n") + "\n"
}

// homeDir is the HOME of the target's sessions: an empty folder in Dir.
func (s *SSHD) homeDir() string { return filepath.Join(s.Dir, "home") }

// cleanup kills the per-connection sshd processes, then the listener.
func (s *SSHD) cleanup() {
	s.mu.Lock()
	cmd := s.cmd
	s.mu.Unlock()
	if cmd != nil {
		for _, pid := range childPIDs(cmd.Process.Pid) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	s.Stop()
}

// childPIDs lists the processes whose parent is pid, from /proc.
func childPIDs(pid int) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var kids []int
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// Fields after the command name, which is in parentheses and may hold spaces.
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 {
			continue
		}
		fields := strings.Fields(string(stat[i+1:]))
		if len(fields) > 1 && fields[1] == strconv.Itoa(pid) {
			kids = append(kids, child)
		}
	}
	return kids
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	return port, nil
}

// SyncBuffer is a bytes.Buffer safe for concurrent writers and readers
// (process output, logs). The zero value is ready to use.
type SyncBuffer struct {
	mu  sync.Mutex // guards buf
	buf bytes.Buffer
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Len is the number of bytes written so far.
func (b *SyncBuffer) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Len()
}

// From returns what was written after the first n bytes.
func (b *SyncBuffer) From(n int) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf.Bytes()[n:])
}
