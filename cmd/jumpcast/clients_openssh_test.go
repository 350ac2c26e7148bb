package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jumpcast/jumpcast/internal/sshtest"
)

// opensshAuth is how an OpenSSH client answers the target: nothing for the
// key target; for the password target, SSH_ASKPASS (the suite's ssh_config
// says BatchMode yes, which the -o here overrides) and the prompts file.
func opensshAuth(t *testing.T, ct compatTarget) (env, opts []string, prompts string) {
	t.Helper()
	if ct.password == "" {
		return nil, nil, ""
	}
	env, prompts = askpass(t, ct.password)
	return env, []string{"-o", "BatchMode=no"}, prompts
}

// checkPrompted checks that the password target's prompt reached the client
// at its login, with the target's text.
func checkPrompted(t *testing.T, prompts string, ct compatTarget) {
	t.Helper()
	if prompts == "" {
		return
	}
	b, err := os.ReadFile(prompts)
	if err != nil {
		t.Errorf("the client was never asked the password: %v", err)
		return
	}
	if !strings.Contains(string(b), "("+ct.login()+") Password:") && !strings.Contains(string(b), ct.login()+"'s password:") {
		t.Errorf("prompts shown: %q, want the target's password prompt", b)
	}
}

// opensshRow: ssh (a command, and a shell with -tt), scp, sftp and rsync.
func opensshRow(t *testing.T, c *compat, ct compatTarget) {
	sshtest.RequireBinary(t, "ssh", "scp", "sftp", "rsync")
	env, opts, prompts := opensshAuth(t, ct)
	base := append([]string{"-F", c.ssh.ConfigPath}, opts...)
	sshArgs := append(append([]string(nil), base...), "-p", c.srv.SSHPort)
	host := "127.0.0.1"

	m := marker("ssh", ct, "exec")
	out, errOut, code := c.run(t, env, "", "ssh", append(sshArgs, ct.login()+"@"+host, markerCommand(m))...)
	c.checkExec(t, m, out, errOut, code)

	m = marker("ssh", ct, "shell")
	out, errOut, code = c.run(t, env, shellInput(m), "ssh", append(sshArgs, "-tt", ct.login()+"@"+host)...)
	c.checkShell(t, m, out, errOut, code, true)

	f := newTransferFile(t, marker("scp", ct, "transfer"), ct)
	scpArgs := append(append([]string(nil), base...), "-P", c.srv.SSHPort)
	if _, errOut, code := c.run(t, env, "", "scp", append(scpArgs, f.local, ct.plus()+"@"+host+":"+f.remote)...); code != 0 {
		t.Errorf("scp upload: exit %d: %s", code, errOut)
	}
	if _, errOut, code := c.run(t, env, "", "scp", append(scpArgs, ct.plus()+"@"+host+":"+f.remote, f.back)...); code != 0 {
		t.Errorf("scp download: exit %d: %s", code, errOut)
	}
	f.check(t, c)

	f = newTransferFile(t, marker("sftp", ct, "transfer"), ct)
	batch := "put " + f.local + " " + f.remote + "\nget " + f.remote + " " + f.back + "\n"
	if _, errOut, code := c.run(t, env, batch, "sftp", append(scpArgs, "-b", "-", ct.plus()+"@"+host)...); code != 0 {
		t.Errorf("sftp -b: exit %d: %s", code, errOut)
	}
	f.check(t, c)

	f = newTransferFile(t, marker("rsync", ct, "transfer"), ct)
	rsh := "ssh " + strings.Join(sshArgs, " ")
	if _, errOut, code := c.run(t, env, "", "rsync", "-e", rsh, f.local, ct.plus()+"@"+host+":"+f.remote); code != 0 {
		t.Errorf("rsync upload: exit %d: %s", code, errOut)
	}
	if _, errOut, code := c.run(t, env, "", "rsync", "-e", rsh, ct.plus()+"@"+host+":"+f.remote, f.back); code != 0 {
		t.Errorf("rsync download: exit %d: %s", code, errOut)
	}
	f.check(t, c)
	checkPrompted(t, prompts, ct)
}

// sshpassRow: `sshpass -p PASSWORD ssh …`, which answers a password prompt
// only when it appears on the client's terminal. Against the key target
// sshpass has nothing to answer and must not get in the way.
func sshpassRow(t *testing.T, c *compat, ct compatTarget) {
	sshtest.RequireBinary(t, "sshpass", "ssh", "scp")
	pw := ct.password
	if pw == "" {
		pw = "unused"
	}
	pass := []string{"-p", pw}
	sshArgs := []string{"ssh", "-F", c.ssh.ConfigPath, "-o", "BatchMode=no", "-p", c.srv.SSHPort}

	m := marker("sshpass", ct, "exec")
	out, errOut, code := c.run(t, nil, "", "sshpass", append(append(pass, sshArgs...), ct.login()+"@127.0.0.1", markerCommand(m))...)
	c.checkExec(t, m, out, errOut, code)

	m = marker("sshpass", ct, "shell")
	out, errOut, code = c.run(t, nil, shellInput(m), "sshpass", append(append(pass, sshArgs...), "-tt", ct.login()+"@127.0.0.1")...)
	c.checkShell(t, m, out, errOut, code, true)

	f := newTransferFile(t, marker("sshpass-scp", ct, "transfer"), ct)
	scp := []string{"scp", "-F", c.ssh.ConfigPath, "-o", "BatchMode=no", "-P", c.srv.SSHPort}
	if _, errOut, code := c.run(t, nil, "", "sshpass", append(append(pass, scp...), f.local, ct.plus()+"@127.0.0.1:"+f.remote)...); code != 0 {
		t.Errorf("sshpass scp upload: exit %d: %s", code, errOut)
	}
	if _, errOut, code := c.run(t, nil, "", "sshpass", append(append(pass, scp...), ct.plus()+"@127.0.0.1:"+f.remote, f.back)...); code != 0 {
		t.Errorf("sshpass scp download: exit %d: %s", code, errOut)
	}
	f.check(t, c)
}

// sshCopyIDRow: ssh-copy-id first logs in with the key alone to see
// whether it is already installed. Through the bastion that login succeeds
// at the bastion when the target is reached with a key the bastion holds,
// so it skips the copy; -f copies the key to the target's
// ~/.ssh/authorized_keys. A password target also asks for its password,
// which the key-only check cannot answer: the key is copied as going direct.
func sshCopyIDRow(t *testing.T, c *compat, ct compatTarget) {
	sshtest.RequireBinary(t, "ssh-copy-id", "ssh")
	env, opts, _ := opensshAuth(t, ct)
	home := t.TempDir() // ssh-copy-id makes its temporary files in ~/.ssh
	if err := os.Mkdir(filepath.Join(home, ".ssh"), 0o700); err != nil {
		t.Fatal(err)
	}
	env = append(env, "HOME="+home)
	args := append([]string{"-i", c.admin.PublicPath, "-F", c.ssh.ConfigPath, "-p", c.srv.SSHPort}, opts...)
	dest := ct.login() + "@127.0.0.1"
	installed := func() bool {
		b, _ := os.ReadFile(filepath.Join(ct.home, ".ssh", "authorized_keys"))
		return strings.Contains(string(b), c.admin.AuthorizedLine)
	}

	out, errOut, code := c.run(t, env, "", "ssh-copy-id", append(args, dest)...)
	if ct.password != "" {
		if code != 0 || !installed() {
			t.Errorf("ssh-copy-id: exit %d, key installed %v:\n%s%s", code, installed(), out, errOut)
		}
		return
	}
	if !strings.Contains(out+errOut, "already exist") || installed() {
		t.Errorf("ssh-copy-id without -f: exit %d, key installed %v; want it skipped as already there:\n%s%s", code, installed(), out, errOut)
	}
	out, errOut, code = c.run(t, env, "", "ssh-copy-id", append(append([]string{"-f"}, args...), dest)...)
	if code != 0 || !installed() {
		t.Errorf("ssh-copy-id -f: exit %d, key installed %v:\n%s%s", code, installed(), out, errOut)
	}
}
