package main

import (
	"path/filepath"
	"strings"
	"testing"

	gossh "golang.org/x/crypto/ssh"

	"github.com/jumpcast/jumpcast/internal/sshtest"
)

// wrongPasswordRow: a wrong answer to the password target's prompt ends
// the login in bounded time, as going direct, and nothing runs: OpenSSH
// shows "Permission denied, please try again." (at its default LogLevel)
// and the bastion's refusal line, and gives up with exit 255; sshpass
// reports a wrong password (exit 5); plink -pw fails its login; dbclient
// with DROPBEAR_PASSWORD shows the refusal and, as when it goes direct to
// a target that hangs up after too many failures, exits 0.
func wrongPasswordRow(t *testing.T, c *compat, ct compatTarget) {
	sshtest.RequireBinary(t, "ssh", "sshpass", "plink", "puttygen", "dbclient", "dropbearconvert")
	const never = "never-ran-$((6*7))"
	dest := ct.login() + "@127.0.0.1"
	// wantCode: > 0 that status, 0 any failure, -1 any status.
	check := func(client, out, errOut string, code int, wantCode int, wantErr string) {
		t.Helper()
		if (code == 0 && wantCode >= 0) || (wantCode > 0 && code != wantCode) || strings.Contains(out, "never-ran-42") || !strings.Contains(errOut, wantErr) {
			t.Errorf("%s with a wrong password: exit %d (want %d), stdout %q, stderr %q (want %q)", client, code, wantCode, out, errOut, wantErr)
		}
	}

	env, _ := askpass(t, compatWrongPassword)
	out, errOut, code := c.run(t, env, "", "ssh", "-F", c.ssh.ConfigPath, "-o", "BatchMode=no", "-o", "LogLevel=INFO", "-p", c.srv.SSHPort, dest, "echo "+never)
	check("ssh", out, errOut, code, 255, "Permission denied, please try again.")
	check("ssh", out, errOut, code, 255, "jumpcast: "+ct.alias+" (")

	out, errOut, code = c.run(t, nil, "", "sshpass", "-p", compatWrongPassword, "ssh", "-F", c.ssh.ConfigPath, "-o", "BatchMode=no", "-p", c.srv.SSHPort, dest, "echo "+never)
	check("sshpass", out, errOut, code, 5, "")

	ppk := filepath.Join(t.TempDir(), "admin.ppk")
	if _, errOut, code := c.run(t, nil, "", "puttygen", c.admin.PrivatePath, "-O", "private", "-o", ppk); code != 0 {
		t.Fatalf("puttygen: exit %d: %s", code, errOut)
	}
	out, errOut, code = c.run(t, nil, "", "plink", "-ssh", "-batch", "-P", c.srv.SSHPort, "-i", ppk, "-hostkey", gossh.FingerprintSHA256(c.hostKey),
		"-pw", compatWrongPassword, dest, "echo "+never)
	check("plink", out, errOut, code, 0, "")

	home := t.TempDir()
	key := filepath.Join(home, "admin.db")
	if _, errOut, code := c.run(t, nil, "", "dropbearconvert", "openssh", "dropbear", c.admin.PrivatePath, key); code != 0 {
		t.Fatalf("dropbearconvert: exit %d: %s", code, errOut)
	}
	out, errOut, code = c.run(t, []string{"HOME=" + home, "DROPBEAR_PASSWORD=" + compatWrongPassword}, "", "dbclient", "-y", "-i", key, "-p", c.srv.SSHPort, ct.plus()+"@127.0.0.1", "echo "+never)
	check("dbclient", out, errOut, code, -1, "authentication failed as "+ct.user)
}
