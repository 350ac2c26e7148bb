package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	gossh "golang.org/x/crypto/ssh"

	"github.com/jumpcast/jumpcast/internal/sshtest"
)

// puttyRow: PuTTY's plink (a command; a shell with -t), pscp and psftp, as
// a Windows admin runs them: the key converted to .ppk with puttygen, the
// bastion's host key given as its fingerprint (-hostkey), -batch so that
// any unexpected question fails instead of waiting, and -pw for the
// password target.
func puttyRow(t *testing.T, c *compat, ct compatTarget) {
	sshtest.RequireBinary(t, "plink", "pscp", "psftp", "puttygen")
	ppk := filepath.Join(t.TempDir(), "admin.ppk")
	if _, errOut, code := c.run(t, nil, "", "puttygen", c.admin.PrivatePath, "-O", "private", "-o", ppk); code != 0 {
		t.Fatalf("puttygen: exit %d: %s", code, errOut)
	}
	common := []string{"-batch", "-P", c.srv.SSHPort, "-i", ppk, "-hostkey", gossh.FingerprintSHA256(c.hostKey)}
	if ct.password != "" {
		common = append(common, "-pw", ct.password)
	}
	plink := append([]string{"-ssh"}, common...)

	m := marker("plink", ct, "exec")
	out, errOut, code := c.run(t, nil, "", "plink", append(plink, ct.login()+"@127.0.0.1", markerCommand(m))...)
	c.checkExec(t, m, out, errOut, code)

	m = marker("plink", ct, "shell")
	out, errOut, code = c.run(t, nil, shellInput(m), "plink", append(plink, "-t", ct.login()+"@127.0.0.1")...)
	c.checkShell(t, m, out, errOut, code, true)

	f := newTransferFile(t, marker("pscp", ct, "transfer"), ct)
	if _, errOut, code := c.run(t, nil, "", "pscp", append(common, f.local, ct.plus()+"@127.0.0.1:"+f.remote)...); code != 0 {
		t.Errorf("pscp upload: exit %d: %s", code, errOut)
	}
	if _, errOut, code := c.run(t, nil, "", "pscp", append(common, ct.plus()+"@127.0.0.1:"+f.remote, f.back)...); code != 0 {
		t.Errorf("pscp download: exit %d: %s", code, errOut)
	}
	f.check(t, c)

	f = newTransferFile(t, marker("psftp", ct, "transfer"), ct)
	batch := filepath.Join(t.TempDir(), "batch")
	if err := os.WriteFile(batch, []byte("put "+f.local+" "+f.remote+"\nget "+f.remote+" "+f.back+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := c.run(t, nil, "", "psftp", append(common, "-b", batch, ct.plus()+"@127.0.0.1")...); code != 0 {
		t.Errorf("psftp -b: exit %d: %s", code, errOut)
	}
	f.check(t, c)
}

// dbclientRow: dropbear's dbclient, with the key converted by
// dropbearconvert, in the `user+target@host` form (dbclient splits
// `user@target@host` at the first `@`), the password target's password
// from DROPBEAR_PASSWORD, and rsync over dbclient for the transfer. -y
// accepts the bastion's host key into a known_hosts of the row's own HOME.
func dbclientRow(t *testing.T, c *compat, ct compatTarget) {
	sshtest.RequireBinary(t, "dbclient", "dropbearconvert", "rsync", "script")
	home := t.TempDir()
	key := filepath.Join(home, "admin.db")
	if _, errOut, code := c.run(t, nil, "", "dropbearconvert", "openssh", "dropbear", c.admin.PrivatePath, key); code != 0 {
		t.Fatalf("dropbearconvert: exit %d: %s", code, errOut)
	}
	env := []string{"HOME=" + home}
	if ct.password != "" {
		env = append(env, "DROPBEAR_PASSWORD="+ct.password)
	}
	db := []string{"-y", "-i", key, "-p", c.srv.SSHPort}

	m := marker("dbclient", ct, "exec")
	out, errOut, code := c.run(t, env, "", "dbclient", append(db, ct.plus()+"@127.0.0.1", markerCommand(m))...)
	c.checkExec(t, m, out, errOut, code)

	// dbclient -t puts its own terminal into raw mode, so it needs one:
	// script(1) gives it a terminal, as an admin's would be.
	m = marker("dbclient", ct, "shell")
	line := "dbclient " + strings.Join(append(db, "-t", ct.plus()+"@127.0.0.1"), " ")
	out, errOut, code = c.run(t, env, shellInput(m), "script", "-qec", line, "/dev/null")
	c.checkShell(t, m, out, errOut, code, true)

	f := newTransferFile(t, marker("dbclient-rsync", ct, "transfer"), ct)
	rsh := "dbclient " + strings.Join(db, " ")
	if _, errOut, code := c.run(t, env, "", "rsync", "-e", rsh, f.local, ct.plus()+"@127.0.0.1:"+f.remote); code != 0 {
		t.Errorf("rsync -e dbclient upload: exit %d: %s", code, errOut)
	}
	if _, errOut, code := c.run(t, env, "", "rsync", "-e", rsh, ct.plus()+"@127.0.0.1:"+f.remote, f.back); code != 0 {
		t.Errorf("rsync -e dbclient download: exit %d: %s", code, errOut)
	}
	f.check(t, c)
}
