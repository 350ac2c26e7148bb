package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/jumpcast/jumpcast/internal/recording"
	"github.com/jumpcast/jumpcast/internal/sshtest"
	"github.com/jumpcast/jumpcast/recorder/asciicast"
	"github.com/jumpcast/jumpcast/recorder/asciicast/asciicasttest"
)

// e2e is one bastion in a child process in front of one real sshd.
type e2e struct {
	sshd    *sshtest.SSHD
	key     *sshtest.KeyPair
	client  *sshtest.ClientConfig
	dataDir string
	cfgPath string
	srv     *server
}

func startE2E(t testing.TB) *e2e {
	t.Helper()
	return startE2EWith(t, nil)
}

// startE2EWith is startE2E with edit applied to the config file before
// the bastion starts.
func startE2EWith(t testing.TB, edit func(cfgPath string)) *e2e {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test")
	}
	sshtest.RequireBinary(t, "/usr/sbin/sshd", "/usr/bin/ssh")
	e := &e2e{key: sshtest.NewKeyPair(t), dataDir: filepath.Join(t.TempDir(), "data")}
	e.sshd = sshtest.StartSSHD(t, sshtest.SSHDOptions{AuthorizedKeys: []gossh.PublicKey{e.key.Public}})
	e.cfgPath = writeConfig(t, e.dataDir, e.key.AuthorizedLine, e.key.PrivatePath, e.sshd.Addr, e.sshd.User(), "")
	if edit != nil {
		edit(e.cfgPath)
	}
	e.client = sshtest.NewClientConfig(t, e.key)
	e.srv = startServer(t, e.cfgPath)
	return e
}

// ssh runs the real OpenSSH client through the bastion.
func (e *e2e) ssh(t testing.TB, stdin string, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	full := append([]string{"-F", e.client.ConfigPath, "-p", e.srv.SSHPort}, args...)
	out, errOut, code, err := sshtest.Run(ctx, strings.NewReader(stdin), "ssh", full...)
	if err != nil {
		t.Fatalf("ssh %v: %v", args, err)
	}
	return string(out), string(errOut), code
}

func (e *e2e) login() string { return e.sshd.User() + "@db1@127.0.0.1" }

// castOutput decodes a recording file: its header and the concatenated
// data of its "o" events.
func castOutput(t testing.TB, path string) (asciicast.Header, string) {
	t.Helper()
	return castData(t, path, "o")
}

// castData decodes a recording file (raw, or compressed as zcat reads
// it): its header and the concatenated data
// of its events whose code is one of the letters in codes.
func castData(t testing.TB, path, codes string) (asciicast.Header, string) {
	t.Helper()
	r, err := asciicast.NewReader(bytes.NewReader(asciicasttest.ReadFile(t, path)))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var b strings.Builder
	for {
		ev, err := r.Next()
		if err != nil {
			break
		}
		if strings.Contains(codes, ev.Code) {
			b.WriteString(ev.Data)
		}
	}
	return r.Header(), b.String()
}

// asciinemaCat checks a file with Debian's asciinema (the strict v2 reader),
// which needs a tty: script(1) gives it one. A compressed recording is
// given to it as zcat prints it.
func asciinemaCat(t *testing.T, path string) string {
	t.Helper()
	sshtest.RequireBinary(t, "/usr/bin/asciinema", "/usr/bin/script")
	if strings.HasSuffix(path, ".gz") {
		plain := filepath.Join(t.TempDir(), "plain.cast")
		if err := os.WriteFile(plain, asciicasttest.ReadFile(t, path), 0o600); err != nil {
			t.Fatal(err)
		}
		path = plain
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "script", "-qec", "asciinema cat "+path, "/dev/null").CombinedOutput()
	if err != nil {
		t.Fatalf("asciinema cat %s: %v\n%s", path, err, out)
	}
	return string(out)
}

func (e *e2e) castPath(r recording.Meta) string {
	return filepath.Join(e.dataDir, "recordings", filepath.FromSlash(r.Path))
}

// TestRecordedSessionThroughOpenSSH: a PTY session with UTF-8, colours and
// an exit status, made with the real ssh client, becomes a recording whose
// decoded output is exactly what the client received, that the CLI lists
// while the server runs, that verifies, and that asciinema reads.
func TestRecordedSessionThroughOpenSSH(t *testing.T) {
	e := startE2E(t)
	script := `printf 'héllo 世界 🎉\n\033[31mred\033[0m\n'; printf 'second line\n' >&2; exit 3`
	out, errOut, code := e.ssh(t, "", "-tt", e.login(), script)
	if code != 3 {
		t.Fatalf("exit status %d, want 3; stderr: %s", code, errOut)
	}
	if !strings.Contains(out, "héllo 世界 🎉") || !strings.Contains(out, "second line") {
		t.Fatalf("client output: %q", out)
	}
	recs := waitRecordings(t, e.cfgPath, 1, func(r recording.Meta) bool { return r.Status == recording.StatusFinished })
	r := recs[0]
	if r.User != "alice" || r.TargetAlias != "db1" || r.RemoteUser != e.sshd.User() || r.ExitStatus == nil || *r.ExitStatus != 3 {
		t.Errorf("index row: %+v", r)
	}
	if r.SHA256 == "" || r.KeyFingerprint == "" || !strings.HasPrefix(r.KeyFingerprint, "SHA256:") {
		t.Errorf("index row lacks hash or key fingerprint: %+v", r)
	}
	h, got := castOutput(t, e.castPath(r))
	if got != out {
		t.Errorf("recording differs from what the client received:\nclient: %q\ncast:   %q", out, got)
	}
	if h.Width == 0 || h.Height == 0 || !strings.Contains(h.Title, "db1") {
		t.Errorf("header: %+v", h)
	}
	if cat := asciinemaCat(t, e.castPath(r)); !strings.Contains(cat, "héllo 世界") {
		t.Errorf("asciinema cat output lacks the text: %q", cat)
	}
	vout, verr, vcode := runJumpcast(t, "", "recordings", "verify", "-c", e.cfgPath)
	if vcode != 0 || !strings.Contains(vout, "1 verified, 0 failed") {
		t.Errorf("recordings verify: exit %d\n%s%s", vcode, vout, verr)
	}
	pout, perr, pcode := runJumpcast(t, "", "play", "--speed", "50", "--idle-limit", "10ms", "-c", e.cfgPath, r.ID)
	if pcode != 0 || !strings.Contains(pout, "héllo 世界 🎉") {
		t.Errorf("play: exit %d: %q %s", pcode, pout, perr)
	}
	// Profiles are on the admin socket (and only there).
	rb := newRemoteBackend(filepath.Join(e.dataDir, "admin.sock"))
	resp, err := rb.send(context.Background(), "GET", "/debug/pprof/goroutine?debug=1", nil)
	if err != nil {
		t.Errorf("pprof on the admin socket: %v", err)
	} else {
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if !strings.Contains(string(body), "goroutine profile") {
			t.Errorf("pprof goroutine profile: %.200q", body)
		}
	}
	e.srv.Stop(t)
	// With the server stopped, the CLI opens the data folder itself.
	if recs := listRecordings(t, e.cfgPath); len(recs) != 1 || recs[0].ID != r.ID {
		t.Errorf("recordings ls without a server: %+v", recs)
	}
}

// TestKillAndRecover: SIGKILL of a server with a live session, then a
// restart: the recording is indexed interrupted, hashed, valid for
// asciinema, and holds what was printed more than a second before the kill.
func TestKillAndRecover(t *testing.T) {
	e := startE2E(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	args := []string{"-F", e.client.ConfigPath, "-p", e.srv.SSHPort, "-tt", e.login(), "printf 'before the kill\\n'; sleep 60"}
	cmd := exec.CommandContext(ctx, "ssh", args...)
	stdin, _ := cmd.StdinPipe() // kept open so ssh does not see EOF
	defer func() { _ = stdin.Close() }()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	waitRecordings(t, e.cfgPath, 1, func(r recording.Meta) bool { return r.Status == recording.StatusActive })
	time.Sleep(2500 * time.Millisecond) // more than one flush interval after the output
	e.srv.Kill()

	e.srv = startServer(t, e.cfgPath)
	recs := listRecordings(t, e.cfgPath)
	if len(recs) != 1 || recs[0].Status != recording.StatusInterrupted {
		t.Fatalf("after restart: %+v", recs)
	}
	r := recs[0]
	if r.SHA256 == "" || r.End.IsZero() || r.End.Before(r.Start) {
		t.Errorf("recovered row lacks hash or end: %+v", r)
	}
	if _, got := castOutput(t, e.castPath(r)); !strings.Contains(got, "before the kill") {
		t.Errorf("recovered recording lost output: %q", got)
	}
	if cat := asciinemaCat(t, e.castPath(r)); !strings.Contains(cat, "before the kill") {
		t.Errorf("asciinema cat: %q", cat)
	}
}

// TestAuditorAddWithAndWithoutServer: the CLI writes accounts through the
// admin socket while the server holds the database, and directly when not.
func TestAuditorAddWithAndWithoutServer(t *testing.T) {
	e := startE2E(t)
	out, errOut, code := runJumpcast(t, "a long enough password\n", "auditor", "add", "carol", "--admin", "-c", e.cfgPath)
	if code != 0 {
		t.Fatalf("auditor add with server: exit %d: %s", code, errOut)
	}
	// web.listen asks for port 0: the running server knows the real one.
	if want := "log in at http://" + e.srv.WebAddr + "/"; !strings.Contains(out, want) {
		t.Errorf("auditor add with server printed %q, want %q", out, want)
	}
	e.srv.Stop(t)
	if _, errOut, code := runJumpcast(t, "another long password\n", "auditor", "add", "dave", "-c", e.cfgPath); code != 0 {
		t.Fatalf("auditor add without server: exit %d: %s", code, errOut)
	}
	out, _, _ = runJumpcast(t, "", "auditor", "ls", "-c", e.cfgPath)
	if !strings.Contains(out, "carol") || !strings.Contains(out, "admin") || !strings.Contains(out, "dave") {
		t.Errorf("auditor ls: %q", out)
	}
}

// TestResizeThroughOpenSSH: the real ssh client in a tmux pane of 100×30
// is resized to 120×40 mid-session. The recording's header has the first
// size, an "r" event carries the second, and the target saw both.
func TestResizeThroughOpenSSH(t *testing.T) {
	e := startE2E(t)
	sshtest.RequireBinary(t, "/usr/bin/tmux")
	sock := filepath.Join(t.TempDir(), "tmux.sock")
	tmux := func(args ...string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if out, err := exec.CommandContext(ctx, "tmux", append([]string{"-S", sock, "-f", "/dev/null"}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("tmux %v: %v %s", args, err, out)
		}
	}
	script := `stty size; read _; stty size; printf 'resized-ok\n'`
	sshCmd := "ssh -F " + e.client.ConfigPath + " -p " + e.srv.SSHPort + " -tt " + e.login() + " \"" + script + "\""
	tmux("new-session", "-d", "-s", "t", "-x", "100", "-y", "30", sshCmd)
	t.Cleanup(func() {
		_ = exec.Command("tmux", "-S", sock, "kill-server").Run()
	})
	waitRecordings(t, e.cfgPath, 1, func(r recording.Meta) bool { return r.Status == recording.StatusActive })
	time.Sleep(500 * time.Millisecond)
	tmux("resize-window", "-t", "t", "-x", "120", "-y", "40")
	time.Sleep(500 * time.Millisecond)
	tmux("send-keys", "-t", "t", "Enter")
	recs := waitRecordings(t, e.cfgPath, 1, func(r recording.Meta) bool { return r.Status == recording.StatusFinished })
	path := e.castPath(recs[0])
	rd, err := asciicast.NewReader(bytes.NewReader(asciicasttest.ReadFile(t, path)))
	if err != nil {
		t.Fatal(err)
	}
	if h := rd.Header(); h.Width != 100 || h.Height != 30 {
		t.Errorf("header size %dx%d, want 100x30", h.Width, h.Height)
	}
	var resizes []string
	var out strings.Builder
	for {
		ev, err := rd.Next()
		if err != nil {
			break
		}
		switch ev.Code {
		case "r":
			resizes = append(resizes, ev.Data)
		case "o":
			out.WriteString(ev.Data)
		}
	}
	if len(resizes) == 0 || resizes[len(resizes)-1] != "120x40" {
		t.Errorf("resize events %v, want the last to be 120x40", resizes)
	}
	if !strings.Contains(out.String(), "30 100") || !strings.Contains(out.String(), "40 120") || !strings.Contains(out.String(), "resized-ok") {
		t.Errorf("target did not see both sizes; recorded output %q", out.String())
	}
}
