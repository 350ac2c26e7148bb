package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jumpcast/jumpcast/internal/sshtest"
)

// ansibleRow: ansible-core ad hoc commands (ping, command, copy to ~/,
// fetch) over OpenSSH, set up as docs/admins.md shows: the inventory names
// the host, ssh_config gives it `User root@TARGET` and the bastion, and
// ansible_user is left out (with ansible_user="root@db1", Ansible expands
// ~root@db1 on the target and copies into a folder of that name). The
// password target's password comes from --connection-password-file, which
// Ansible hands to sshpass.
func ansibleRow(t *testing.T, c *compat, ct compatTarget) {
	sshtest.RequireBinary(t, "ansible", "sshpass")
	dir := t.TempDir()
	host := "jc-" + ct.alias
	block := []string{
		"Host " + host,
		"  HostName 127.0.0.1",
		"  Port " + c.srv.SSHPort,
		"  User " + ct.login(),
	}
	if ct.password != "" {
		block = append(block, "  BatchMode no") // the suite's defaults say yes
	}
	cfg := sshtest.NewClientConfig(t, c.admin, block...)
	cfg.TrustHostKey(t, c.srv.SSHAddr, c.hostKey)
	files := map[string]string{
		"inventory": "[servers]\n" + host + "\n\n[servers:vars]\nansible_python_interpreter=/usr/bin/python3\n",
		"ansible.cfg": "[defaults]\ninventory = " + filepath.Join(dir, "inventory") + "\n" +
			"local_tmp = " + filepath.Join(dir, "local") + "\n" +
			"[ssh_connection]\n" +
			"ssh_args = -F " + cfg.ConfigPath + " -o ControlMaster=no -o ControlPath=none\n",
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	env := []string{"ANSIBLE_CONFIG=" + filepath.Join(dir, "ansible.cfg"), "HOME=" + dir,
		"LC_ALL=C.UTF-8", "ANSIBLE_NOCOLOR=1", "PYTHONWARNINGS=ignore"}
	args := []string{host}
	if ct.password != "" {
		pwFile := filepath.Join(dir, "password")
		if err := os.WriteFile(pwFile, []byte(ct.password+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		args = append(args, "--connection-password-file", pwFile)
	}
	ansible := func(module, moduleArgs string) string {
		t.Helper()
		a := append(append([]string(nil), args...), "-m", module)
		if moduleArgs != "" {
			a = append(a, "-a", moduleArgs)
		}
		out, errOut, code := c.run(t, env, "", "ansible", a...)
		if code != 0 {
			t.Fatalf("ansible -m %s: exit %d\n%s%s", module, code, out, errOut)
		}
		return out
	}

	if out := ansible("ping", ""); !strings.Contains(out, `"ping": "pong"`) {
		t.Errorf("ansible -m ping: %s", out)
	}
	m := marker("ansible", ct, "command")
	if out := ansible("command", "sh -c 'echo "+m+"-$((6*7))'"); !strings.Contains(out, m+"-42") {
		t.Errorf("ansible -m command: %s", out)
	}
	c.expectRecorded(m + "-42")

	f := newTransferFile(t, marker("ansible", ct, "transfer"), ct)
	ansible("copy", "src="+f.local+" dest=~/"+f.name)
	fetched := filepath.Join(dir, "fetched") + "/"
	ansible("fetch", "src=~/"+f.name+" dest="+fetched+" flat=yes")
	f.back = filepath.Join(fetched, f.name)
	f.check(t, c)
	// Ansible's ~ is the remote user's home: nothing named after the login.
	if matches, _ := filepath.Glob(filepath.Join(ct.home, "~*")); len(matches) > 0 {
		t.Errorf("ansible wrote into %v", matches)
	}
}
