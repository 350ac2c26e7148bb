package sshtest

import (
	"bytes"
	"context"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"
)

// runSSH runs the real ssh client with cfg against port, bounded to 20 s.
func runSSH(t *testing.T, cfg *ClientConfig, env []string, port int, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	all := append([]string{"-F", cfg.ConfigPath, "-p", strconv.Itoa(port)}, args...)
	stdout, stderr, code, err := RunEnv(ctx, env, nil, "ssh", all...)
	if err != nil {
		t.Fatalf("ssh %q: %v", all, err)
	}
	return string(stdout), string(stderr), code
}

func TestSSHDStartStopRotate(t *testing.T) {
	RequireBinary(t, SSHDPath, "ssh")
	key := NewKeyPair(t)
	sshd := StartSSHD(t, SSHDOptions{AuthorizedKeys: []gossh.PublicKey{key.Public}})
	cfg := NewClientConfig(t, key)
	dest := sshd.User() + "@127.0.0.1"

	out, errOut, code := runSSH(t, cfg, nil, sshd.Port, dest, "echo ok; exit 7")
	if out != "ok\n" || code != 7 {
		t.Fatalf("ssh echo ok: stdout %q stderr %q exit %d\nsshd log:\n%s", out, errOut, code, sshd.Log())
	}
	if !strings.Contains(sshd.Log(), "Accepted publickey for "+sshd.User()) {
		t.Errorf("sshd log lacks the accepted key:\n%s", sshd.Log())
	}

	sshd.Stop()
	if c, err := net.DialTimeout("tcp", sshd.Addr, 2*time.Second); err == nil {
		_ = c.Close()
		t.Fatal("stopped sshd still accepts connections")
	}

	sshd.Restart(t)
	if out, errOut, code := runSSH(t, cfg, nil, sshd.Port, dest, "echo again"); out != "again\n" || code != 0 {
		t.Fatalf("after restart: stdout %q stderr %q exit %d", out, errOut, code)
	}

	old := sshd.HostKey
	sshd.RotateHostKey(t)
	if bytes.Equal(old.Marshal(), sshd.HostKey.Marshal()) {
		t.Fatal("RotateHostKey kept the key")
	}
	_, errOut, code = runSSH(t, cfg, nil, sshd.Port, dest, "true")
	if code != 255 || !strings.Contains(errOut, "REMOTE HOST IDENTIFICATION HAS CHANGED") {
		t.Errorf("after rotation: exit %d stderr %q, want 255 and a changed-key warning", code, errOut)
	}
}

func TestSSHDTrustHostKeyAndEnv(t *testing.T) {
	RequireBinary(t, SSHDPath, "ssh")
	key := NewKeyPair(t)
	sshd := StartSSHD(t, SSHDOptions{AuthorizedKeys: []gossh.PublicKey{key.Public}})
	cfg := NewClientConfig(t, key, "StrictHostKeyChecking yes", "SendEnv JUMPCAST_TEST_*")
	cfg.TrustHostKey(t, sshd.Addr, sshd.HostKey)
	out, errOut, code := runSSH(t, cfg, []string{"JUMPCAST_TEST_A=b c"}, sshd.Port,
		sshd.User()+"@127.0.0.1", `printf '%s' "$JUMPCAST_TEST_A"`)
	if out != "b c" || code != 0 {
		t.Errorf("stdout %q stderr %q exit %d, want \"b c\" 0", out, errOut, code)
	}
}

func TestAgent(t *testing.T) {
	RequireBinary(t, SSHDPath, "ssh", "ssh-add")
	key := NewKeyPair(t)
	a := StartAgent(t, key)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, errOut, code, err := RunEnv(ctx, a.Env(), nil, "ssh-add", "-L")
	if err != nil || code != 0 || !strings.Contains(string(out), strings.Fields(key.AuthorizedLine)[1]) {
		t.Fatalf("ssh-add -L: %q %q exit %d err %v", out, errOut, code, err)
	}

	// The key is only in the agent: ssh logs in with it and forwards it (-A).
	sshd := StartSSHD(t, SSHDOptions{AuthorizedKeys: []gossh.PublicKey{key.Public}})
	cfg := NewClientConfig(t, nil)
	got, errOut2, code := runSSH(t, cfg, a.Env(), sshd.Port, "-A", sshd.User()+"@127.0.0.1", "ssh-add -L")
	if code != 0 || !strings.Contains(got, strings.Fields(key.AuthorizedLine)[1]) {
		t.Errorf("ssh -A … ssh-add -L: %q %q exit %d", got, errOut2, code)
	}
}

func TestRunTimeoutKillsGroup(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, _, _, err := Run(ctx, nil, "/bin/sh", "-c", "sleep 30 & sleep 30")
	if err == nil || time.Since(start) > 5*time.Second {
		t.Errorf("Run with timeout: err %v after %v", err, time.Since(start))
	}
	_, _, code, err := Run(context.Background(), strings.NewReader("x"), "/bin/sh", "-c", "read v; exit 4")
	if err != nil || code != 4 {
		t.Errorf("Run exit 4: code %d err %v", code, err)
	}
}
