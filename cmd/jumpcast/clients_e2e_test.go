package main

// The compatibility suite (issue 15): SSH clients written by others, from
// Debian's packages, driven through a real `jumpcast serve` to a key target
// (a real OpenSSH sshd, reached with a key the bastion holds) and to a
// password-only target (sshtest's in-process target that offers no public
// key authentication), as an admin would use them: a command with its
// output and exit status, a shell with a terminal, and a file transfer.
// Every client call has a hard timeout: a hang fails its row. At the end
// every row's marker must be in a recording, and the target's password in
// no log, recording, data file or client output.
//
// The clients' rows are in clients_openssh_test.go, clients_putty_test.go,
// clients_python_test.go and clients_ansible_test.go.

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/jumpcast/jumpcast/internal/recording"
	"github.com/jumpcast/jumpcast/internal/sshtest"
	"github.com/jumpcast/jumpcast/recorder/asciicast"
)

// clientTimeout bounds every client call: a client that hangs fails its row.
const clientTimeout = 45 * time.Second

// compatPassword is the password-only target's password: it must reach the
// target and nothing else.
const compatPassword = "Compat-pw-7781-do-not-log"

// compatWrongPassword is what the wrong-password rows answer: it must reach
// nothing but the target either.
const compatWrongPassword = "Wrong-pw-3319-do-not-log"

// compatTarget is one of the suite's targets as a client names it.
type compatTarget struct {
	// name is the row's word for it: "key" or "password".
	name string
	// alias is the target alias in the bastion's configuration.
	alias string
	// user is the remote user.
	user string
	// password is what the target asks; "" for the key target.
	password string
	// home is the HOME of the target's sessions (where ~/ goes).
	home string
}

// login is the login name in the `user@target` form.
func (ct compatTarget) login() string { return ct.user + "@" + ct.alias }

// plus is the login name in the `user+target` form, for tools that split at
// the first `@` (dbclient) or parse `host:path` (scp, rsync, pscp).
func (ct compatTarget) plus() string { return ct.user + "+" + ct.alias }

// compat is one bastion in a child process in front of both targets.
type compat struct {
	admin    *sshtest.KeyPair
	sshd     *sshtest.SSHD
	pwTarget *sshtest.Target
	dataDir  string
	cfgPath  string
	srv      *server
	hostKey  gossh.PublicKey // the bastion's host key, as clients must accept it
	v6Port   string          // the key target's sshd, also reachable as the raw host [::1]:v6Port
	ssh      *sshtest.ClientConfig
	targets  []compatTarget

	mu      sync.Mutex // guards the fields below
	expect  []string   // each must be in some recording (a row's marker)
	outputs []string   // every client's stdout and stderr, searched for the password
}

// startCompat starts both targets and the bastion. The admin "alice" may
// reach both; the bastion logs in to the key target with a key it
// holds, and asks the password target's password at the admin's login.
func startCompat(t *testing.T) *compat {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test")
	}
	sshtest.RequireBinary(t, "/usr/sbin/sshd", "/usr/bin/ssh")
	c := &compat{admin: sshtest.NewKeyPair(t), dataDir: filepath.Join(t.TempDir(), "data")}
	bastionKey := sshtest.NewKeyPair(t)
	c.sshd = sshtest.StartSSHD(t, sshtest.SSHDOptions{AuthorizedKeys: []gossh.PublicKey{bastionKey.Public}})
	pwHome := t.TempDir()
	c.pwTarget = sshtest.NewTarget(t, sshtest.TargetOptions{Password: compatPassword, PasswordOnly: true, Home: pwHome})
	// writeConfig's rule allows "db*" as the sshd's user (the in-process
	// target takes any user name).
	c.targets = []compatTarget{
		{name: "key", alias: "db1", user: c.sshd.User(), home: filepath.Join(c.sshd.Dir, "home")},
		{name: "password", alias: "db2", user: c.sshd.User(), password: compatPassword, home: pwHome},
	}
	c.cfgPath = writeConfig(t, c.dataDir, c.admin.AuthorizedLine, bastionKey.PrivatePath, c.sshd.Addr, c.sshd.User(),
		fmt.Sprintf("  db2:\n    address: %q\n", c.pwTarget.Addr))
	c.v6Port = forwardIPv6(t, c.sshd.Addr)
	allowRawIPv6(t, c.cfgPath, c.sshd.User())
	c.srv = startServer(t, c.cfgPath)
	c.hostKey = readHostKey(t, filepath.Join(c.dataDir, "ssh_host_ed25519_key"))
	c.ssh = sshtest.NewClientConfig(t, c.admin)
	c.ssh.TrustHostKey(t, c.srv.SSHAddr, c.hostKey)
	return c
}

// readHostKey reads the public half of a private host key file.
func readHostKey(t *testing.T, path string) gossh.PublicKey {
	t.Helper()
	pem, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s, err := gossh.ParsePrivateKey(pem)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return s.PublicKey()
}

// marker is a row's unique word: the client, the target and what it does.
// A row's command prints marker+"-42" with shell arithmetic, so the text
// proves the command ran (an echoed command line shows "$((6*7))").
func marker(client string, ct compatTarget, what string) string {
	return "M-" + client + "-" + ct.name + "-" + what
}

// markerCommand prints marker+"-42" and exits with status 3.
func markerCommand(m string) string { return "echo " + m + "-$((6*7)); exit 3" }

// expectRecorded notes that some recording must hold s.
func (c *compat) expectRecorded(s string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.expect = append(c.expect, s)
}

// run runs one client command with a hard timeout and keeps its output for
// the password check. A client still running at the timeout fails the row.
func (c *compat) run(t *testing.T, env []string, stdin string, name string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), clientTimeout)
	defer cancel()
	out, errOut, code, err := sshtest.RunEnv(ctx, env, strings.NewReader(stdin), name, args...)
	c.mu.Lock()
	c.outputs = append(c.outputs, string(out), string(errOut))
	c.mu.Unlock()
	if err != nil {
		t.Fatalf("%s %s: %v (a hang is a failure)\nstdout: %s\nstderr: %s", name, strings.Join(args, " "), err, out, errOut)
	}
	return string(out), string(errOut), code
}

// checkExec checks a marker command's output and exit status.
func (c *compat) checkExec(t *testing.T, m, out, errOut string, code int) {
	t.Helper()
	if !strings.Contains(out, m+"-42") || code != 3 {
		t.Errorf("exec: exit %d (want 3), stdout %q (want %s-42), stderr %q", code, out, m, errOut)
	}
	c.expectRecorded(m + "-42")
}

// shellInput is what a row types into a shell: tty proves the terminal, the
// marker that the shell ran it, and the exit status comes back as 5.
func shellInput(m string) string { return "tty; echo " + m + "-$((6*7)); exit 5\n" }

// checkShell checks a shell row: a terminal, the marker, exit status 5.
// wantStatus is false for clients that do not report a shell's exit status.
func (c *compat) checkShell(t *testing.T, m, out, errOut string, code int, wantStatus bool) {
	t.Helper()
	if !strings.Contains(out, "/dev/pts/") || !strings.Contains(out, m+"-42") {
		t.Errorf("shell: output lacks a terminal name or %s-42: %q (stderr %q)", m, out, errOut)
	}
	if wantStatus && code != 5 {
		t.Errorf("shell: exit %d, want 5 (stderr %q)", code, errOut)
	}
	c.expectRecorded(m + "-42")
}

// transferFile is a fresh local file with random content, named after the
// row, and the paths an upload and a download use on the target.
type transferFile struct {
	name   string // base name, unique to the row
	local  string // the file to upload
	remote string // absolute path on the target
	back   string // where the download goes
	data   []byte
}

func newTransferFile(t *testing.T, m string, ct compatTarget) *transferFile {
	t.Helper()
	dir := t.TempDir()
	f := &transferFile{name: m + ".bin", data: make([]byte, 200<<10)}
	if _, err := rand.Read(f.data); err != nil {
		t.Fatal(err)
	}
	f.local = filepath.Join(dir, f.name)
	f.remote = filepath.Join(ct.home, f.name)
	f.back = filepath.Join(dir, "back-"+f.name)
	if err := os.WriteFile(f.local, f.data, 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// check checks that the upload reached the target and the download came
// back, byte for byte, and notes the file's name for the recordings.
func (f *transferFile) check(t *testing.T, c *compat) {
	t.Helper()
	for what, p := range map[string]string{"upload": f.remote, "download": f.back} {
		got, err := os.ReadFile(p)
		if err != nil {
			t.Errorf("%s: %v", what, err)
		} else if !bytes.Equal(got, f.data) {
			t.Errorf("%s: %d bytes differ from the %d sent", what, len(got), len(f.data))
		}
	}
	c.expectRecorded(f.name)
}

// askpass writes an SSH_ASKPASS program that answers the password and notes
// each prompt it was shown, and returns the environment that makes OpenSSH
// use it (with or without a terminal) and the prompts file.
func askpass(t *testing.T, password string) (env []string, prompts string) {
	t.Helper()
	dir := t.TempDir()
	prompts = filepath.Join(dir, "prompts")
	pw := filepath.Join(dir, "pw")
	prog := filepath.Join(dir, "askpass")
	script := "#!/bin/sh\nprintf '%s\\n' \"$1\" >> " + prompts + "\ncat " + pw + "\n"
	if err := os.WriteFile(pw, []byte(password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(prog, []byte(script), 0o700); err != nil {
		t.Fatal(err)
	}
	return []string{"SSH_ASKPASS=" + prog, "SSH_ASKPASS_REQUIRE=force", "DISPLAY=:0"}, prompts
}

// requirePython skips t (fails it with JUMPCAST_REQUIRE_REAL=1) when Debian's
// python3 lacks module. The pyenv python3 on PATH may lack it: the suite
// always runs /usr/bin/python3.
func requirePython(t *testing.T, module string) {
	t.Helper()
	sshtest.RequireBinary(t, "/usr/bin/python3")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "/usr/bin/python3", "-c", "import "+module).CombinedOutput(); err != nil {
		if os.Getenv(sshtest.RequireRealEnv) == "1" {
			t.Fatalf("python3 module %s: %v %s (%s=1)", module, err, out, sshtest.RequireRealEnv)
		}
		t.Skipf("python3 module %s not available: %v", module, err)
	}
}

// recordedText is what a recording holds that a check can look for: its
// command, and its output and marker events.
func recordedText(t *testing.T, path string, r recording.Meta) string {
	t.Helper()
	_, text := castData(t, path, "o"+asciicast.CodeMarker)
	return r.Command + "\n" + text
}

// checkRecorded waits until no session is active, then checks that every
// row's marker is in a finished recording.
func (c *compat) checkRecorded(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	var recs []recording.Meta
	for {
		recs = listRecordings(t, c.cfgPath, "--limit", "1000")
		active := 0
		for _, r := range recs {
			if r.Status == recording.StatusActive {
				active++
			}
		}
		if active == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d sessions still active 15s after the clients ended", active)
		}
		time.Sleep(200 * time.Millisecond)
	}
	var all strings.Builder
	for _, r := range recs {
		if r.Status != recording.StatusFinished {
			t.Errorf("recording %s (%s %q): status %s", r.ID, r.Kind, r.Command, r.Status)
		}
		all.WriteString(recordedText(t, filepath.Join(c.dataDir, "recordings", filepath.FromSlash(r.Path)), r))
		all.WriteString("\n")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range c.expect {
		if !strings.Contains(all.String(), m) {
			t.Errorf("no recording holds %q", m)
		}
	}
	t.Logf("%d recordings hold all %d rows' markers", len(recs), len(c.expect))
}

// checkNoPassword fails when the password (or a wrong one a row typed) is
// in the bastion's log, in any file of its data folder (recordings,
// database, keys) or in what a client printed.
func (c *compat) checkNoPassword(t *testing.T) {
	t.Helper()
	for _, secret := range []string{compatPassword, compatWrongPassword} {
		if strings.Contains(c.srv.Stderr.String(), secret) {
			t.Errorf("%q is in the bastion's log", secret)
		}
		err := filepath.WalkDir(c.dataDir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() {
				return err
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			if bytes.Contains(b, []byte(secret)) {
				t.Errorf("%q is in %s", secret, p)
			}
			return nil
		})
		if err != nil {
			t.Errorf("walk the data folder: %v", err)
		}
		c.mu.Lock()
		for _, o := range c.outputs {
			if strings.Contains(o, secret) {
				t.Errorf("a client printed %q: %q", secret, o)
			}
		}
		c.mu.Unlock()
	}
}

// TestClients drives every client row against both targets, concurrently,
// then checks the recordings and that the password went nowhere else.
func TestClients(t *testing.T) {
	c := startCompat(t)
	start := time.Now()
	t.Run("rows", func(t *testing.T) {
		for _, row := range compatRows() {
			for _, ct := range c.targets {
				if row.only != "" && row.only != ct.name {
					continue
				}
				t.Run(row.name+"/"+ct.name, func(t *testing.T) {
					t.Parallel()
					row.run(t, c, ct)
				})
			}
		}
	})
	t.Logf("clients ran in %v", time.Since(start).Round(time.Millisecond))
	if t.Failed() {
		t.Logf("the bastion's log:\n%s", c.srv.Stderr.String())
	}
	c.checkRecorded(t)
	c.checkNoPassword(t)
}

// compatRow is one client: run drives it against one target.
type compatRow struct {
	name string
	run  func(t *testing.T, c *compat, ct compatTarget)
	// only, if set, is the one target (its name) the row runs against;
	// the reason is at the row.
	only string
}

// compatRows lists the clients.
func compatRows() []compatRow {
	return []compatRow{
		{name: "openssh", run: opensshRow},
		{name: "sshpass", run: sshpassRow},
		{name: "ssh-copy-id", run: sshCopyIDRow},
		{name: "putty", run: puttyRow},
		{name: "dbclient", run: dbclientRow},
		// paramiko sends a new SSH_MSG_SERVICE_REQUEST before each
		// authentication method; upstream x/crypto's server hangs up on
		// it after the key's partial success (paramiko#894), our copy
		// answers it (internal/xcrypto, patch 0001).
		{name: "paramiko", run: pythonRow("paramiko")},
		{name: "asyncssh", run: pythonRow("asyncssh")},
		{name: "ansible", run: ansibleRow},
		// A raw host is a matter of parsing the login name: one target does.
		{name: "raw-ipv6", run: rawIPv6Row, only: "key"},
		// A wrong password needs a target that asks for one.
		{name: "wrong-password", run: wrongPasswordRow, only: "password"},
	}
}
