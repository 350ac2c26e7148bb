package sshtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"
)

// openSSHTarget is a Target trusted by a real OpenSSH client config.
func openSSHTarget(t *testing.T) (tg *Target, cfg *ClientConfig, port string, dest string) {
	t.Helper()
	RequireBinary(t, "ssh")
	key := NewKeyPair(t)
	tg = NewTarget(t, TargetOptions{AuthorizedKeys: []gossh.PublicKey{key.Public}})
	cfg = NewClientConfig(t, key, "StrictHostKeyChecking yes")
	cfg.TrustHostKey(t, tg.Addr, tg.HostKey)
	_, port, _ = strings.Cut(tg.Addr, ":")
	return tg, cfg, port, "root@127.0.0.1"
}

// run runs a client program bounded to 30 s and fails the test if it cannot run.
func run(t *testing.T, stdin []byte, name string, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, errOut, code, err := Run(ctx, bytes.NewReader(stdin), name, args...)
	if err != nil {
		t.Fatalf("%s %q: %v (stderr %q)", name, args, err, errOut)
	}
	return string(out), string(errOut), code
}

func TestTargetWithOpenSSHClient(t *testing.T) {
	_, cfg, port, dest := openSSHTarget(t)
	ssh := []string{"-F", cfg.ConfigPath, "-p", port}

	if out, errOut, code := run(t, nil, "ssh", append(ssh, dest, "echo hi; exit 7")...); out != "hi\n" || code != 7 {
		t.Errorf("ssh exit 7: %q %q %d", out, errOut, code)
	}
	if out, errOut, code := run(t, nil, "ssh", append(ssh, dest, "kill -KILL $$")...); code != 255 || out != "" {
		t.Errorf("ssh killed by signal: %q %q exit %d, want 255", out, errOut, code)
	}
	// Without a local terminal, ssh -tt asks for a 0x0 PTY, as OpenSSH's sshd shows too.
	tty := []byte("stty size\nexit 3\n")
	if out, errOut, code := run(t, tty, "ssh", append(ssh, "-tt", dest)...); code != 3 || !strings.Contains(out, "0 0\r\n") {
		t.Errorf("ssh -tt: %q %q exit %d, want \"0 0\" and exit 3", out, errOut, code)
	}
	for i := range 20 {
		out, errOut, code := run(t, nil, "ssh", append(ssh, dest, "seq 1 200000")...)
		lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		if code != 0 || lines[len(lines)-1] != "200000" {
			t.Fatalf("run %d: seq 1 200000 ended with %q (exit %d, stderr %q)", i, lines[len(lines)-1], code, errOut)
		}
	}
	in := make([]byte, 4<<20)
	_, _ = rand.Read(in)
	sum := sha256.Sum256(in)
	if out, errOut, code := run(t, in, "ssh", append(ssh, dest, "sha256sum")...); code != 0 || !strings.HasPrefix(out, hex.EncodeToString(sum[:])) {
		t.Errorf("sha256sum through ssh: %q %q exit %d", out, errOut, code)
	}
}

func TestTargetWithOpenSSHFileCopies(t *testing.T) {
	_, cfg, port, dest := openSSHTarget(t)
	RequireBinary(t, "scp", "sftp", "rsync")
	dir := t.TempDir()
	src := filepath.Join(dir, "src.bin")
	data := make([]byte, 3<<20)
	_, _ = rand.Read(data)
	if err := os.WriteFile(src, data, 0o600); err != nil {
		t.Fatal(err)
	}
	check := func(name, path string) {
		t.Helper()
		got, err := os.ReadFile(path)
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("%s: %s has %d bytes (equal=%v), err %v", name, path, len(got), bytes.Equal(got, data), err)
		}
	}
	copies := []struct {
		name string
		args []string
		dst  string
	}{
		{"scp upload", []string{"scp", "-F", cfg.ConfigPath, "-P", port, src, dest + ":" + dir + "/scp-up"}, "scp-up"},
		{"scp download", []string{"scp", "-F", cfg.ConfigPath, "-P", port, dest + ":" + src, dir + "/scp-down"}, "scp-down"},
		{"scp -O upload", []string{"scp", "-O", "-F", cfg.ConfigPath, "-P", port, src, dest + ":" + dir + "/scpO-up"}, "scpO-up"},
		{"rsync upload", []string{"rsync", "-e", cfg.SSHCommand(mustAtoi(t, port)), src, dest + ":" + dir + "/rsync-up"}, "rsync-up"},
		{"rsync download", []string{"rsync", "-e", cfg.SSHCommand(mustAtoi(t, port)), dest + ":" + src, dir + "/rsync-down"}, "rsync-down"},
	}
	for _, c := range copies {
		if out, errOut, code := run(t, nil, c.args[0], c.args[1:]...); code != 0 {
			t.Errorf("%s: exit %d: %q %q", c.name, code, out, errOut)
			continue
		}
		check(c.name, filepath.Join(dir, c.dst))
	}
	batch := "put " + src + " " + dir + "/sftp-up\nget " + src + " " + dir + "/sftp-down\n"
	if out, errOut, code := run(t, []byte(batch), "sftp", "-F", cfg.ConfigPath, "-P", port, "-b", "-", dest); code != 0 {
		t.Errorf("sftp -b: exit %d: %q %q", code, out, errOut)
	}
	check("sftp put", filepath.Join(dir, "sftp-up"))
	check("sftp get", filepath.Join(dir, "sftp-down"))
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestTargetWithOpenSSHAgentAndEnv(t *testing.T) {
	RequireBinary(t, "ssh", "ssh-agent", "ssh-add")
	loginKey, otherKey := NewKeyPair(t), NewKeyPair(t)
	tg := NewTarget(t, TargetOptions{AuthorizedKeys: []gossh.PublicKey{loginKey.Public}})
	_, port, _ := strings.Cut(tg.Addr, ":")
	a := StartAgent(t, loginKey, otherKey) // the keys are only in the agent
	cfg := NewClientConfig(t, nil, "StrictHostKeyChecking yes", "SendEnv JUMPCAST_TEST_*")
	cfg.TrustHostKey(t, tg.Addr, tg.HostKey)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, errOut, code, err := RunEnv(ctx, append(a.Env(), "JUMPCAST_TEST_LANG=fr"), nil, "ssh",
		"-F", cfg.ConfigPath, "-p", port, "-A", "root@127.0.0.1", `ssh-add -L; echo "lang=$JUMPCAST_TEST_LANG"`)
	if err != nil || code != 0 || !strings.Contains(string(out), strings.Fields(otherKey.AuthorizedLine)[1]) ||
		!strings.Contains(string(out), "lang=fr\n") {
		t.Errorf("ssh -A: %q %q exit %d err %v", out, errOut, code, err)
	}
	if env := tg.LastEnv(); env["JUMPCAST_TEST_LANG"] != "fr" {
		t.Errorf("LastEnv = %v", env)
	}
}
