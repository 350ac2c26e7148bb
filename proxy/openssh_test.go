package proxy

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jumpcast/jumpcast/config"
	"github.com/jumpcast/jumpcast/internal/audit"
	"github.com/jumpcast/jumpcast/internal/sshtest"
	gossh "golang.org/x/crypto/ssh"
)

// realFixture is a bastion in front of a real OpenSSH sshd, driven by the
// real OpenSSH clients.
type realFixture struct {
	*fixture
	sshd   *sshtest.SSHD
	client *sshtest.ClientConfig
	port   string // the bastion's port
	user   string // the remote user (the test process's user)
}

func newRealFixture(t *testing.T, o fixtureOpts, sshdKeys ...gossh.PublicKey) *realFixture {
	t.Helper()
	sshtest.RequireBinary(t, sshtest.SSHDPath, "ssh", "scp", "sftp", "rsync")
	id := sshtest.NewKeyPair(t)
	sshd := sshtest.StartSSHD(t, sshtest.SSHDOptions{AuthorizedKeys: append(sshdKeys, id.Public)})
	o.addr, o.id = sshd.Addr, id
	user := sshd.User()
	edit := o.config
	o.config = func(c *config.Config) {
		u := c.Users["alice"]
		u.Allow[0].As = append(u.Allow[0].As, user)
		c.Users["alice"] = u
		if edit != nil {
			edit(c)
		}
	}
	f := newFixture(t, o)
	rf := &realFixture{fixture: f, sshd: sshd, user: user}
	rf.client = sshtest.NewClientConfig(t, f.admin)
	rf.client.TrustHostKey(t, f.addr, f.hostKey)
	_, rf.port, _ = strings.Cut(f.addr, ":")
	return rf
}

// dest is "USER@t1@127.0.0.1" (or with '+').
func (rf *realFixture) dest(sep string) string {
	return rf.user + sep + "t1@127.0.0.1"
}

// ssh runs the real ssh client through the bastion.
func (rf *realFixture) ssh(t *testing.T, stdin []byte, env []string, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var in *bytes.Reader
	if stdin != nil {
		in = bytes.NewReader(stdin)
	}
	full := append([]string{"-F", rf.client.ConfigPath, "-p", rf.port}, args...)
	var out, errOut []byte
	var code int
	var err error
	if in == nil {
		out, errOut, code, err = sshtest.RunEnv(ctx, env, nil, "ssh", full...)
	} else {
		out, errOut, code, err = sshtest.RunEnv(ctx, env, in, "ssh", full...)
	}
	if err != nil {
		t.Fatalf("ssh %v: %v (stderr %q)", args, err, errOut)
	}
	return string(out), string(errOut), code
}

// run runs any client program, bounded.
func run(t *testing.T, name string, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, errOut, code, err := sshtest.Run(ctx, nil, name, args...)
	if err != nil {
		t.Fatalf("%s %v: %v (stderr %q)", name, args, err, errOut)
	}
	return string(out), string(errOut), code
}

func TestOpenSSHExecShellAndStreams(t *testing.T) {
	rf := newRealFixture(t, fixtureOpts{})
	if _, stderr, code := rf.ssh(t, nil, nil, rf.dest("@"), "exit 7"); code != 7 {
		t.Errorf("ssh 'exit 7' = %d (stderr %q)", code, stderr)
	}
	out, stderr, code := rf.ssh(t, []byte("echo hello-$((6*7)); stty size; exit 5\n"), nil, "-tt", rf.dest("@"))
	if code != 5 || !strings.Contains(out, "hello-42") {
		t.Errorf("ssh -tt shell: code %d out %q stderr %q", code, out, stderr)
	}
	data := make([]byte, 10<<20)
	_, _ = rand.Read(data)
	sum := sha256.Sum256(data)
	out, stderr, code = rf.ssh(t, data, nil, rf.dest("+"), "sha256sum")
	if code != 0 || !strings.HasPrefix(out, hex.EncodeToString(sum[:])) {
		t.Errorf("10 MiB through sha256sum: %q (code %d, stderr %q)", out, code, stderr)
	}
	for i := range 50 {
		out, stderr, code := rf.ssh(t, nil, nil, rf.dest("@"), "seq 1 200000")
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if code != 0 || lines[len(lines)-1] != "200000" || len(lines) != 200000 {
			t.Fatalf("run %d: last line %q of %d (code %d, stderr %q)", i, lines[len(lines)-1], len(lines), code, stderr)
		}
	}
	out, _, code = rf.ssh(t, nil, nil, "alice@127.0.0.1")
	if code != 0 || !strings.Contains(out, "you are alice") || !strings.Contains(out, "t1 ("+rf.sshd.Addr+")") {
		t.Errorf("no-target login: code %d\n%s", code, out)
	}
}

func TestOpenSSHFileCopies(t *testing.T) {
	rf := newRealFixture(t, fixtureOpts{})
	dir := t.TempDir()
	local := filepath.Join(dir, "payload")
	data := make([]byte, 3<<20)
	_, _ = rand.Read(data)
	if err := os.WriteFile(local, data, 0o600); err != nil {
		t.Fatal(err)
	}
	remoteDir := t.TempDir() // the target runs on this machine
	check := func(name, path string) {
		t.Helper()
		got, err := os.ReadFile(path)
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("%s: %s differs (%d bytes, %v)", name, path, len(got), err)
		}
	}
	cfg := []string{"-F", rf.client.ConfigPath, "-P", rf.port}
	for _, sep := range []string{"+", "@"} {
		up := filepath.Join(remoteDir, "scp-up"+sep)
		if _, stderr, code := run(t, "scp", append(cfg, local, rf.dest(sep)+":"+up)...); code != 0 {
			t.Errorf("scp upload with %q: code %d: %s", sep, code, stderr)
			continue
		}
		check("scp upload "+sep, up)
		down := filepath.Join(dir, "scp-down"+sep)
		if _, stderr, code := run(t, "scp", append(cfg, rf.dest(sep)+":"+up, down)...); code != 0 {
			t.Errorf("scp download with %q: code %d: %s", sep, code, stderr)
			continue
		}
		check("scp download "+sep, down)
	}
	if _, stderr, code := run(t, "scp", append(append([]string{"-O"}, cfg...), local, rf.dest("+")+":"+filepath.Join(remoteDir, "legacy"))...); code != 0 {
		t.Errorf("scp -O (legacy protocol): code %d: %s", code, stderr)
	} else {
		check("scp -O", filepath.Join(remoteDir, "legacy"))
	}

	batch := filepath.Join(dir, "batch")
	sftpUp, sftpDown := filepath.Join(remoteDir, "sftp-up"), filepath.Join(dir, "sftp-down")
	_ = os.WriteFile(batch, []byte("put "+local+" "+sftpUp+"\nget "+sftpUp+" "+sftpDown+"\n"), 0o600)
	if _, stderr, code := run(t, "sftp", append(cfg, "-b", batch, rf.dest("@"))...); code != 0 {
		t.Errorf("sftp -b: code %d: %s", code, stderr)
	}
	check("sftp put", sftpUp)
	check("sftp get", sftpDown)

	e := rf.client.SSHCommand(mustAtoi(t, rf.port))
	rsUp, rsDown := filepath.Join(remoteDir, "rsync-up"), filepath.Join(dir, "rsync-down")
	if _, stderr, code := run(t, "rsync", "-e", e, local, rf.dest("+")+":"+rsUp); code != 0 {
		t.Errorf("rsync upload: code %d: %s", code, stderr)
	}
	check("rsync upload", rsUp)
	if _, stderr, code := run(t, "rsync", "-e", e, rf.dest("+")+":"+rsUp, rsDown); code != 0 {
		t.Errorf("rsync download: code %d: %s", code, stderr)
	}
	check("rsync download", rsDown)
	if rec := f2rec(rf); rec == 0 {
		t.Error("no sessions recorded")
	}
}

func f2rec(rf *realFixture) int {
	rf.rec.mu.Lock()
	defer rf.rec.mu.Unlock()
	return len(rf.rec.sessions)
}

func mustAtoi(t *testing.T, s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestOpenSSHAgentForwarding(t *testing.T) {
	agentKey := sshtest.NewKeyPair(t)
	rf := newRealFixture(t, fixtureOpts{noIDs: true}, agentKey.Public)
	ag := sshtest.StartAgent(t, rf.admin, agentKey)
	noKey := sshtest.NewClientConfig(t, nil)
	noKey.TrustHostKey(t, rf.addr, rf.hostKey)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, stderr, code, err := sshtest.RunEnv(ctx, ag.Env(), nil, "ssh", "-F", noKey.ConfigPath, "-p", rf.port, "-A",
		rf.dest("@"), "ssh-add -l")
	if err != nil || code != 0 || !strings.Contains(string(out), gossh.FingerprintSHA256(agentKey.Public)) {
		t.Errorf("ssh -A: code %d out %q stderr %q (%v)", code, out, stderr, err)
	}
	// Without -A the bastion has no way in.
	_, stderr, code, _ = sshtest.RunEnv(ctx, ag.Env(), nil, "ssh", "-F", noKey.ConfigPath, "-p", rf.port, rf.dest("@"), "true")
	if code != 255 || !strings.Contains(string(stderr), "jumpcast: t1 ("+rf.sshd.Addr+"): authentication failed as "+rf.user+" (tried none)") {
		t.Errorf("without -A: code %d stderr %q", code, stderr)
	}
}

func TestOpenSSHErrorsAsPrinted(t *testing.T) {
	rf := newRealFixture(t, fixtureOpts{})
	tests := []struct {
		name, dest, want string
	}{
		{"unknown target", rf.user + "@db9@127.0.0.1", "jumpcast: db9: no such target"},
		{"remote user", "postgres@t1@127.0.0.1", "jumpcast: t1: remote user postgres not permitted for alice"},
		{"malformed", rf.user + "@t1:0@127.0.0.1", `jumpcast: malformed login name "` + rf.user + `@t1:0": port out of range`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, tty := range []string{"-T", "-tt"} {
				_, stderr, code := rf.ssh(t, nil, nil, tty, tt.dest, "true")
				if code != 255 || !strings.Contains(stderr, tt.want) {
					t.Errorf("%s: code %d stderr %q, want %q", tty, code, stderr, tt.want)
				}
			}
		})
	}
	// A forward is refused; ssh -W only says "stdio forwarding failed",
	// ssh -L prints the bastion's reason, naming the recorded way in.
	_, stderr, code := rf.ssh(t, nil, nil, "-W", "127.0.0.1:22", rf.dest("@"))
	if code != 255 || !strings.Contains(stderr, "stdio forwarding failed") {
		t.Errorf("ssh -W: code %d stderr %q", code, stderr)
	}
	if stderr := rf.localForward(t); !strings.Contains(stderr, "administratively prohibited: "+forwardRefused) {
		t.Errorf("ssh -L: stderr %q", stderr)
	}

	// Pin the key, then the target's key changes.
	if _, stderr, code := rf.ssh(t, nil, nil, rf.dest("@"), "true"); code != 0 {
		t.Fatalf("first connection: %d %q", code, stderr)
	}
	old := rf.sshd.HostKey
	rf.sshd.RotateHostKey(t)
	_, stderr, code = rf.ssh(t, nil, nil, rf.dest("@"), "true")
	want := "jumpcast: t1 (" + rf.sshd.Addr + "): host key changed: expected " + gossh.FingerprintSHA256(old) +
		" got " + gossh.FingerprintSHA256(rf.sshd.HostKey)
	if code != 255 || !strings.Contains(stderr, want) {
		t.Errorf("rotated host key: code %d stderr %q, want %q", code, stderr, want)
	}

	// The target goes away.
	rf.sshd.Stop()
	start := time.Now()
	_, stderr, code = rf.ssh(t, nil, nil, rf.dest("@"), "true")
	if code != 255 || !strings.Contains(stderr, "jumpcast: t1 ("+rf.sshd.Addr+"): connection refused") {
		t.Errorf("stopped target: code %d stderr %q", code, stderr)
	}
	if d := time.Since(start); d > rf.cfg.Upstream.DialTimeout+5*time.Second {
		t.Errorf("stopped target reported after %v", d)
	}
}

// localForward runs ssh -N -L through the bastion, connects to the local
// end once and returns what ssh printed.
func (rf *realFixture) localForward(t *testing.T) string {
	t.Helper()
	local := closedPort(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	type res struct{ stderr []byte }
	done := make(chan res, 1)
	go func() { // owner: localForward; ends when ctx is cancelled
		_, stderr, _, _ := sshtest.Run(ctx, nil, "ssh", "-F", rf.client.ConfigPath, "-p", rf.port, "-N", "-o", "LogLevel=INFO",
			"-L", local+":127.0.0.1:22", rf.dest("@"))
		done <- res{stderr}
	}()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		conn, err := net.DialTimeout("tcp", local, time.Second)
		if err != nil {
			time.Sleep(50 * time.Millisecond)
			continue
		}
		_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
		_, _ = io.ReadAll(conn) // ssh closes it when the forward is refused
		_ = conn.Close()
		break
	}
	time.Sleep(200 * time.Millisecond) // let ssh print
	cancel()
	return string((<-done).stderr)
}

// TestOpenSSHShowsBanner: the real ssh client prints ssh.banner before it
// logs in (at LogLevel INFO, its default), and a reload changes it for
// the next connection.
func TestOpenSSHShowsBanner(t *testing.T) {
	rf := newRealFixture(t, fixtureOpts{config: func(c *config.Config) {
		c.SSH.Banner = "Sessions through this bastion are recorded.\n\tAuthorized use only.\n\n"
	}})
	_, stderr, code := rf.ssh(t, nil, nil, "-o", "LogLevel=INFO", rf.dest("@"), "true")
	if code != 0 || !strings.Contains(stderr, "Sessions through this bastion are recorded.\n\tAuthorized use only.\n") {
		t.Fatalf("code %d stderr %q", code, stderr)
	}
	next := *rf.cfg
	next.SSH.Banner = "Changed notice."
	if err := rf.srv.Reload(&next); err != nil {
		t.Fatal(err)
	}
	_, stderr, _ = rf.ssh(t, nil, nil, "-o", "LogLevel=INFO", rf.dest("@"), "true")
	if !strings.Contains(stderr, "Changed notice.\n") || strings.Contains(stderr, "recorded") {
		t.Errorf("after reload: stderr %q", stderr)
	}
}

// TestOpenSSHControlMaster: an admin with ControlMaster in ~/.ssh/config
// runs several commands over one connection to the bastion. Each is its
// own session with its own recording and exit status, and the master's
// exit closes the connection.
func TestOpenSSHControlMaster(t *testing.T) {
	rf := newRealFixture(t, fixtureOpts{})
	sock := filepath.Join(t.TempDir(), "cm.sock")
	mux := []string{"-o", "ControlPath=" + sock}
	if _, stderr, code := rf.ssh(t, nil, nil, append(mux, "-o", "ControlMaster=yes", "-o", "ControlPersist=30", "-f", "-N", rf.dest("@"))...); code != 0 {
		t.Fatalf("master: %d %q", code, stderr)
	}
	defer func() { _, _, _ = rf.ssh(t, nil, nil, append(mux, "-O", "exit", rf.dest("@"))...) }()
	for i, cmd := range []string{"echo one", "echo two; exit 3"} {
		out, stderr, code := rf.ssh(t, nil, nil, append(mux, rf.dest("@"), cmd)...)
		want := []string{"one\n", "two\n"}[i]
		if out != want || code != []int{0, 3}[i] {
			t.Errorf("%q over the master: %q %d (stderr %q)", cmd, out, code, stderr)
		}
	}
	if _, stderr, code := rf.ssh(t, nil, nil, append(mux, "-O", "check", rf.dest("@"))...); code != 0 {
		t.Fatalf("the master is gone: %q", stderr)
	}
	rf.rec.mu.Lock()
	var outs []string
	for _, s := range rf.rec.sessions {
		outs = append(outs, s.output.String())
	}
	rf.rec.mu.Unlock()
	if len(outs) != 2 || outs[0] != "one\n" || outs[1] != "two\n" {
		t.Errorf("recordings %q, want one per command", outs)
	}
	if n := len(rf.audit.find(audit.KindAuth, audit.OutcomeOK)); n != 1 {
		t.Errorf("%d logins to the bastion, want 1 (the master's)", n)
	}
}
