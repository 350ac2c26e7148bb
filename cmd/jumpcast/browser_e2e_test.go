package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	gossh "golang.org/x/crypto/ssh"

	"github.com/jumpcast/jumpcast/internal/browsertest"
	"github.com/jumpcast/jumpcast/internal/recording"
	"github.com/jumpcast/jumpcast/internal/sshtest"
	"github.com/jumpcast/jumpcast/recorder/asciicast/asciicasttest"
)

// The browser end-to-end test drives the whole product the way a newcomer
// does: a real `jumpcast serve` child, a real sshd target, the real ssh
// client through the bastion, an auditor made with `jumpcast auditor add`,
// and Debian's Chromium on the web site (internal/browsertest).

// liveSSH is a real ssh -tt session through the bastion that stays open
// until the test writes "quit".
type liveSSH struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *sshtest.SyncBuffer
	done  chan struct{} // closed when ssh has exited; waitErr is then set
	// waitErr is Wait's result, written before done is closed.
	waitErr error
}

func (e *e2e) startLiveSSH(t *testing.T, login, script string) *liveSSH {
	t.Helper()
	return e.startLiveSSHVia(t, e.srv.SSHPort, nil, login, script)
}

// startLiveSSHVia is startLiveSSH to another port (a balancer's), with
// more ssh options before the login.
func (e *e2e) startLiveSSHVia(t *testing.T, port string, opts []string, login, script string) *liveSSH {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // ends with the test anyway (cleanup below)
	t.Cleanup(cancel)
	args := append([]string{"-F", e.client.ConfigPath, "-p", port, "-tt"}, opts...)
	cmd := exec.CommandContext(ctx, "ssh", append(args, login, script)...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	l := &liveSSH{cmd: cmd, stdin: stdin, out: &sshtest.SyncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = l.out, l.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { // owner: this test; ends when ssh exits
		l.waitErr = cmd.Wait()
		close(l.done)
	}()
	t.Cleanup(func() {
		_ = stdin.Close()
		select {
		case <-l.done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-l.done
		}
	})
	return l
}

func (l *liveSSH) send(t *testing.T, line string) {
	t.Helper()
	if _, err := io.WriteString(l.stdin, line+"\n"); err != nil {
		t.Fatalf("write to ssh: %v", err)
	}
}

// waitExit waits for the ssh client to exit and returns its status.
func (l *liveSSH) waitExit(t *testing.T) int {
	t.Helper()
	select {
	case <-l.done:
		var ee *exec.ExitError
		if l.waitErr != nil && !errors.As(l.waitErr, &ee) {
			t.Fatalf("ssh: %v", l.waitErr)
		}
		return l.cmd.ProcessState.ExitCode()
	case <-time.After(15 * time.Second):
		t.Fatalf("ssh did not exit; it printed %q", l.out.String())
		return -1
	}
}

// startBrowserE2E is startE2E with a second target alias (db2) on the same
// sshd, so the list has something to filter out.
func startBrowserE2E(t *testing.T) *e2e {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test")
	}
	sshtest.RequireBinary(t, "/usr/sbin/sshd", "/usr/bin/ssh", browsertest.Chromium)
	e := &e2e{key: sshtest.NewKeyPair(t), dataDir: filepath.Join(t.TempDir(), "data")}
	e.sshd = sshtest.StartSSHD(t, sshtest.SSHDOptions{AuthorizedKeys: []gossh.PublicKey{e.key.Public}})
	extra := fmt.Sprintf("  db2:\n    address: %q\n", e.sshd.Addr)
	e.cfgPath = writeConfig(t, e.dataDir, e.key.AuthorizedLine, e.key.PrivatePath, e.sshd.Addr, e.sshd.User(), extra)
	e.client = sshtest.NewClientConfig(t, e.key)
	e.srv = startServer(t, e.cfgPath)
	return e
}

// TestBrowserE2E: an auditor made with the CLI logs in to a real `jumpcast
// serve`, filters the list, plays a session recorded through the bastion
// with the real ssh client and sees its text at the end, downloads the cast
// byte for byte, then watches a second session live until it ends; the
// pages report no console error and no CSP violation.
func TestBrowserE2E(t *testing.T) {
	e := startBrowserE2E(t)
	const said = "jumpcast-e2e: héllo wörld ✓ 世界 ok"
	script := `printf 'jumpcast-e2e: h\303\251llo w\303\266rld \342\234\223 \344\270\226\347\225\214 ok\n'; printf 'second-line-of-the-session\n'; exit 0`
	if out, errOut, code := e.ssh(t, "", "-tt", e.login(), script); code != 0 || !strings.Contains(out, said) {
		t.Fatalf("recorded session: exit %d, output %q, stderr %q", code, out, errOut)
	}
	if out, errOut, code := e.ssh(t, "", "-tt", e.sshd.User()+"@db2@127.0.0.1", "echo decoy-on-db2"); code != 0 {
		t.Fatalf("decoy session: exit %d, output %q, stderr %q", code, out, errOut)
	}
	const pw = "browser e2e passphrase"
	if _, errOut, code := runJumpcast(t, pw+"\n", "auditor", "add", "carol", "-c", e.cfgPath); code != 0 {
		t.Fatalf("auditor add: exit %d: %s", code, errOut)
	}
	recs := waitRecordings(t, e.cfgPath, 2, func(r recording.Meta) bool { return r.Status == recording.StatusFinished })
	var rec recording.Meta
	for _, r := range recs {
		if r.TargetAlias == "db1" {
			rec = r
		}
	}
	if rec.ID == "" {
		t.Fatalf("no db1 recording among %+v", recs)
	}

	dlDir := t.TempDir()
	b := browsertest.New(t, 55*time.Second, dlDir)
	art := browsertest.ArtifactDir(t, "e2e")
	site := "http://" + e.srv.WebAddr

	b.LogIn(t, site+"/", "carol", pw)
	b.Do(t, "see the list", chromedp.WaitVisible(chromedp.ID("recordings")))
	if n := b.Eval(t, `String(document.querySelectorAll("#recordings tbody tr").length)`); n != "2" {
		t.Fatalf("list: %s rows, want 2", n)
	}
	b.Screenshot(t, art, "e2e-list.png")
	b.CheckClean(t, "list")

	b.Do(t, "type a filter", chromedp.SendKeys(chromedp.ID("target"), "db1"))
	b.Load(t, "apply the filter", chromedp.Submit(chromedp.ID("target")))
	loc, _ := chromedp.Run(b.Ctx(), chromedp.Location())
	if n := b.Eval(t, `String(document.querySelectorAll("#recordings tbody tr").length)`); n != "1" || !strings.Contains(loc, "target=db1") {
		t.Fatalf("filtered list: %s rows at %s", n, loc)
	}
	b.Load(t, "open the recording", chromedp.Click(chromedp.CSS(`#recordings tr[data-id="`+rec.ID+`"] a`)))
	b.Do(t, "wait for the player", chromedp.WaitVisible(chromedp.CSS("#player .xterm-screen")))
	if _, err := chromedp.Run(b.Ctx(), chromedp.Poll[bool](`!!(window.jumpcastPlayer && window.jumpcastPlayer.getDuration() > 0)`, chromedp.WithPollingTimeout(15*time.Second))); err != nil {
		t.Fatalf("the player never loaded the recording: %v; page problems: %s", err, b.ProblemsSoFar())
	}
	b.Do(t, "seek to the end", chromedp.Evaluate[chromedp.Void](`window.jumpcastPlayer.seek(window.jumpcastPlayer.getDuration())`, chromedp.EvalAwaitPromise))
	b.WaitTerminal(t, said, "second-line-of-the-session")
	b.Screenshot(t, art, "e2e-player.png")
	b.CheckClean(t, "player")

	b.Do(t, "download the cast", chromedp.Click(chromedp.ID("download")))
	got := b.WaitDownload(t)
	want := asciicasttest.ReadFile(t, e.castPath(rec))
	if string(got) != string(want) {
		t.Errorf("downloaded cast (%d bytes) differs from the file (%d bytes)", len(got), len(want))
	}
	b.CheckClean(t, "download")

	searchScreens(t, e, b, rec.ID)
	watchLive(t, e, b, art)
}

// searchScreens: the auditor types text the session printed into "On
// screen"; the list keeps that session, with the line, and the line's link
// opens the player at that moment showing it.
func searchScreens(t *testing.T, e *e2e, b *browsertest.Browser, id string) {
	t.Helper()
	b.Load(t, "back to the list", chromedp.Navigate("http://"+e.srv.WebAddr+"/"))
	b.Do(t, "type screen text", chromedp.SendKeys(chromedp.ID("screen"), "SECOND-LINE-of-the"))
	b.Load(t, "search", chromedp.Submit(chromedp.ID("screen")))
	rows := b.Eval(t, `Array.from(document.querySelectorAll("#recordings tbody tr[data-id]")).map(function (r) { return r.dataset.id; }).join(",")`)
	if rows != id {
		t.Fatalf("screen search listed %q, want only %s", rows, id)
	}
	if line := b.Eval(t, `document.querySelector(".screen-match code").textContent`); line != "second-line-of-the-session" {
		t.Errorf("matching line %q", line)
	}
	b.Load(t, "open the match", chromedp.Click(chromedp.CSS(".screen-match a")))
	b.WaitTerminal(t, "second-line-of-the-session")
	b.CheckClean(t, "screen search")
}

// watchLive: a session that runs while the auditor watches; what it prints
// appears without a reload, and the page ends cleanly when it exits.
func watchLive(t *testing.T, e *e2e, b *browsertest.Browser, art string) {
	t.Helper()
	live := e.startLiveSSH(t, e.login(),
		`printf 'live-ready \342\234\223\n'; while read l; do [ "$l" = quit ] && exit 0; printf 'got:%s \303\274\n' "$l"; done`)
	recs := waitRecordings(t, e.cfgPath, 1, func(r recording.Meta) bool { return r.Status == recording.StatusActive })
	var id string
	for _, r := range recs {
		if r.Status == recording.StatusActive {
			id = r.ID
		}
	}
	b.Load(t, "back to the list", chromedp.Navigate("http://"+e.srv.WebAddr+"/"))
	if badge := b.Eval(t, `(function () { var b = document.querySelector('#recordings tr[data-id="`+id+`"] .badge'); return b ? b.textContent : ""; })()`); badge != "live" {
		t.Errorf("the running session's badge: %q, want live", badge)
	}
	b.Load(t, "open the live session", chromedp.Click(chromedp.CSS(`#recordings tr[data-id="`+id+`"] a`)))
	b.Do(t, "wait for the live player", chromedp.WaitVisible(chromedp.CSS("#player .xterm-screen")), chromedp.WaitVisible(chromedp.ID("live-note")))
	b.WaitTerminal(t, "live-ready ✓")
	for _, word := range []string{"alpha", "beta"} {
		live.send(t, word)
		b.WaitTerminal(t, "got:"+word+" ü")
	}
	b.Screenshot(t, art, "e2e-live.png")
	b.CheckClean(t, "live")

	live.send(t, "quit")
	if code := live.waitExit(t); code != 0 {
		t.Errorf("live ssh exit %d; output %q", code, live.out.String())
	}
	b.Do(t, "wait for the end", chromedp.WaitVisible(chromedp.ID("live-ended")))
	if state := b.Eval(t, `document.getElementById("player").dataset.state`); state != "ended" {
		t.Errorf("player state after the session ended: %q", state)
	}
	b.Screenshot(t, art, "e2e-live-ended.png")
	b.CheckClean(t, "live ended")
}
