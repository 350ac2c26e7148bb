package main

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	gossh "golang.org/x/crypto/ssh"
)

// pythonJob is what testdata/clients/*_client.py read on stdin.
type pythonJob struct {
	Host       string    `json:"host"`
	Port       int       `json:"port"`
	User       string    `json:"user"`
	Key        string    `json:"key"`
	Password   *string   `json:"password"`
	HostKey    string    `json:"host_key"`
	Command    string    `json:"command"`
	ShellInput string    `json:"shell_input"`
	Put        [2]string `json:"put"`
	Get        [2]string `json:"get"`
}

// pythonResult is what they print.
type pythonResult struct {
	ExecStdout  string `json:"exec_stdout"`
	ExecStatus  int    `json:"exec_status"`
	ShellOutput string `json:"shell_output"`
	ShellStatus int    `json:"shell_status"`
}

// pythonRow runs testdata/clients/<lib>_client.py with Debian's python3: on
// one connection a command, a shell with a terminal, and SFTP both ways;
// the bastion's host key is checked, and the password target's password is
// given to the library's connect().
func pythonRow(lib string) func(t *testing.T, c *compat, ct compatTarget) {
	return func(t *testing.T, c *compat, ct compatTarget) {
		requirePython(t, lib)
		port, err := strconv.Atoi(c.srv.SSHPort)
		if err != nil {
			t.Fatal(err)
		}
		f := newTransferFile(t, marker(lib, ct, "transfer"), ct)
		job := pythonJob{
			Host: "127.0.0.1", Port: port, User: ct.login(), Key: c.admin.PrivatePath,
			HostKey:    strings.TrimSpace(string(gossh.MarshalAuthorizedKey(c.hostKey))),
			Command:    markerCommand(marker(lib, ct, "exec")),
			ShellInput: shellInput(marker(lib, ct, "shell")),
			Put:        [2]string{f.local, f.remote},
			Get:        [2]string{f.remote, f.back},
		}
		if ct.password != "" {
			job.Password = &ct.password
		}
		in, err := json.Marshal(job)
		if err != nil {
			t.Fatal(err)
		}
		out, errOut, code := c.run(t, []string{"PYTHONWARNINGS=ignore"}, string(in), "/usr/bin/python3", "testdata/clients/"+lib+"_client.py")
		var r pythonResult
		if code != 0 || json.Unmarshal([]byte(out), &r) != nil {
			t.Fatalf("%s_client.py: exit %d: %s\n%s", lib, code, out, errOut)
		}
		c.checkExec(t, marker(lib, ct, "exec"), r.ExecStdout, errOut, r.ExecStatus)
		c.checkShell(t, marker(lib, ct, "shell"), r.ShellOutput, errOut, r.ShellStatus, true)
		f.check(t, c)
	}
}
