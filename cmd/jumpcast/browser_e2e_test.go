package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	gossh "golang.org/x/crypto/ssh"

	"github.com/jumpcast/jumpcast/internal/sshtest"
	"github.com/jumpcast/jumpcast/store"
)

// The browser end-to-end test drives the whole product the way a newcomer
// does: a real `jumpcast serve` child, a real sshd target, the real ssh
// client through the bastion, an auditor made with `jumpcast auditor add`,
// and Debian's Chromium on the web site. It duplicates the small Chromium
// harness of replayweb/browser_test.go (test files cannot import each
// other's helpers).

const e2eChromium = "/usr/bin/chromium"

// e2eBrowser is one headless Chromium tab with what the page reported.
type e2eBrowser struct {
	ctx context.Context

	mu        sync.Mutex // guards problems and downloads
	problems  []string   // console errors and warnings, exceptions, log entries
	downloads map[string]browser.EventDownloadProgress
}

// cspProbe records every securitypolicyviolation event in the page.
const e2eCSPProbe = `window.__csp = []; document.addEventListener("securitypolicyviolation", function (e) {
  window.__csp.push(e.violatedDirective + " " + e.blockedURI); });`

// newE2EBrowser starts Chromium with the flags of replayweb's browser test
// (headless, closed network, no sandbox when root), downloads into dlDir,
// and collects console problems for the whole run.
func newE2EBrowser(t *testing.T, timeout time.Duration, dlDir string) *e2eBrowser {
	t.Helper()
	sshtest.RequireBinary(t, e2eChromium)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(e2eChromium),
		chromedp.Headless,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("no-service-autorun", true),
		chromedp.Flag("password-store", "basic"),
	}
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox)
	}
	ctx, cancelTimeout := context.WithTimeout(context.Background(), timeout)
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	tctx, cancelTab := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc()
		cancelTimeout()
	})
	b := &e2eBrowser{ctx: tctx, downloads: map[string]browser.EventDownloadProgress{}}
	if err := chromedp.Do(tctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	if _, err := chromedp.Call(tctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: e2eCSPProbe}); err != nil {
		t.Fatal(err)
	}
	yes := true
	if _, err := chromedp.CallBrowser(tctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: dlDir, EventsEnabled: &yes,
	}); err != nil {
		t.Fatalf("set download folder: %v", err)
	}
	if err := chromedp.ListenBrowser(tctx, func(ev any) {
		if p, ok := ev.(*browser.EventDownloadProgress); ok {
			b.mu.Lock()
			b.downloads[p.GUID] = *p
			b.mu.Unlock()
		}
	}); err != nil {
		t.Fatal(err)
	}
	// Console reads the console API, uncaught exceptions and the browser
	// log (where Chromium reports CSP violations and failed loads).
	messages := chromedp.Console(tctx)
	go func() { // owner: this test; ends when the tab's context ends
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleWarning || m.IsException() {
				b.mu.Lock()
				b.problems = append(b.problems, fmt.Sprintf("console %s (%s): %s (%s:%d)", m.Type, m.Source, m.Text, m.URL, m.Line+1))
				b.mu.Unlock()
			}
		}
	}()
	return b
}

func (b *e2eBrowser) do(t *testing.T, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		t.Fatalf("%s: %v; page problems: %s", what, err, b.problemsSoFar())
	}
}

// load runs trigger and waits for the page load it causes.
func (b *e2eBrowser) load(t *testing.T, what string, trigger chromedp.Action[chromedp.Void]) {
	t.Helper()
	if _, err := chromedp.Run(b.ctx, chromedp.WaitEvent(page.LoadEventFired, nil, trigger)); err != nil {
		t.Fatalf("%s: %v; page problems: %s", what, err, b.problemsSoFar())
	}
}

func (b *e2eBrowser) eval(t *testing.T, js string) string {
	t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](js))
	if err != nil {
		t.Fatalf("evaluate %.60q: %v", js, err)
	}
	return v
}

func (b *e2eBrowser) screenshot(t *testing.T, dir, name string) {
	t.Helper()
	buf, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100)) // quality 100: PNG
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, buf, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", p)
}

// checkClean fails the test on any CSP violation or console problem so far.
func (b *e2eBrowser) checkClean(t *testing.T, where string) {
	t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[[]string](`window.__csp || []`))
	if err != nil {
		t.Fatalf("%s: read CSP violations: %v", where, err)
	}
	for _, s := range v {
		t.Errorf("%s: CSP violation: %s", where, s)
	}
	time.Sleep(150 * time.Millisecond) // let the console iterator catch up
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, p := range b.problems {
		t.Errorf("%s: %s", where, p)
	}
	b.problems = nil
}

func (b *e2eBrowser) problemsSoFar() string {
	v, _ := chromedp.Run(b.ctx, chromedp.Evaluate[[]string](`window.__csp || []`))
	b.mu.Lock()
	defer b.mu.Unlock()
	return fmt.Sprintf("CSP violations %q, console %q", v, b.problems)
}

// e2eTerminalText is what the player's terminal shows now.
const e2eTerminalText = `(function () { var el = document.querySelector(".ap-term-text"); return el ? el.textContent : ""; })()`

// waitTerminal polls until the player's terminal shows every one of want.
func (b *e2eBrowser) waitTerminal(t *testing.T, want ...string) {
	t.Helper()
	var conds []string
	for _, w := range want {
		conds = append(conds, fmt.Sprintf(`t.includes(%q)`, w))
	}
	js := fmt.Sprintf(`(function () { var t = %s; return %s; })()`, e2eTerminalText, strings.Join(conds, " && "))
	if _, err := chromedp.Run(b.ctx, chromedp.Poll[bool](js, chromedp.WithPollingTimeout(15*time.Second))); err != nil {
		got, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](e2eTerminalText))
		t.Fatalf("the terminal never showed %q: %v; it shows %q; page problems: %s", want, err, got, b.problemsSoFar())
	}
}

// waitDownload waits for a completed download and returns its bytes.
func (b *e2eBrowser) waitDownload(t *testing.T, dlDir string) []byte {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		b.mu.Lock()
		var done *browser.EventDownloadProgress
		for _, d := range b.downloads {
			switch d.State {
			case browser.DownloadProgressStateCompleted:
				done = &d
			case browser.DownloadProgressStateCanceled:
				b.mu.Unlock()
				t.Fatalf("the download was cancelled: %+v", d)
			}
		}
		b.mu.Unlock()
		if done != nil {
			p := done.FilePath
			if p == "" {
				p = filepath.Join(dlDir, done.GUID) // allowAndName names files by GUID
			}
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatalf("read the downloaded file: %v", err)
			}
			return data
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("no download completed in 15s; page problems: %s", b.problemsSoFar())
	return nil
}

// e2eArtifactDir is where screenshots go: $JUMPCAST_TEST_ARTIFACTS/e2e when
// set (CI keeps it), else the test's temporary folder.
func e2eArtifactDir(t *testing.T) string {
	t.Helper()
	if d := os.Getenv("JUMPCAST_TEST_ARTIFACTS"); d != "" {
		d = filepath.Join(d, "e2e")
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

// liveSSH is a real ssh -tt session through the bastion that stays open
// until the test writes "quit".
type liveSSH struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *syncBuffer
	done  chan struct{} // closed when ssh has exited; waitErr is then set
	// waitErr is Wait's result, written before done is closed.
	waitErr error
}

func (e *e2e) startLiveSSH(t *testing.T, login, script string) *liveSSH {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, "ssh", "-F", e.client.ConfigPath, "-p", e.srv.SSHPort, "-tt", login, script)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	l := &liveSSH{cmd: cmd, stdin: stdin, out: &syncBuffer{}, done: make(chan struct{})}
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
	sshtest.RequireBinary(t, "/usr/sbin/sshd", "/usr/bin/ssh", e2eChromium)
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
	recs := waitRecordings(t, e.cfgPath, 2, func(r store.Recording) bool { return r.Status == store.StatusFinished })
	var rec store.Recording
	for _, r := range recs {
		if r.TargetAlias == "db1" {
			rec = r
		}
	}
	if rec.ID == "" {
		t.Fatalf("no db1 recording among %+v", recs)
	}

	dlDir := t.TempDir()
	b := newE2EBrowser(t, 55*time.Second, dlDir)
	art := e2eArtifactDir(t)
	site := "http://" + e.srv.WebAddr

	b.load(t, "open the site", chromedp.Navigate(site+"/"))
	b.do(t, "log in",
		chromedp.WaitVisible(chromedp.ID("password")),
		chromedp.SendKeys(chromedp.ID("name"), "carol"),
		chromedp.SendKeys(chromedp.ID("password"), pw),
	)
	b.load(t, "submit the login", chromedp.Submit(chromedp.ID("password")))
	b.do(t, "see the list", chromedp.WaitVisible(chromedp.ID("recordings")))
	if n := b.eval(t, `String(document.querySelectorAll("#recordings tbody tr").length)`); n != "2" {
		t.Fatalf("list: %s rows, want 2", n)
	}
	b.screenshot(t, art, "e2e-list.png")
	b.checkClean(t, "list")

	b.do(t, "type a filter", chromedp.SendKeys(chromedp.ID("target"), "db1"))
	b.load(t, "apply the filter", chromedp.Submit(chromedp.ID("target")))
	loc, _ := chromedp.Run(b.ctx, chromedp.Location())
	if n := b.eval(t, `String(document.querySelectorAll("#recordings tbody tr").length)`); n != "1" || !strings.Contains(loc, "target=db1") {
		t.Fatalf("filtered list: %s rows at %s", n, loc)
	}
	b.load(t, "open the recording", chromedp.Click(chromedp.CSS(`#recordings tr[data-id="`+rec.ID+`"] a`)))
	b.do(t, "wait for the player", chromedp.WaitVisible(chromedp.CSS("#player .ap-term")))
	if _, err := chromedp.Run(b.ctx, chromedp.Poll[bool](`!!(window.jumpcastPlayer && window.jumpcastPlayer.getDuration() > 0)`, chromedp.WithPollingTimeout(15*time.Second))); err != nil {
		t.Fatalf("the player never loaded the recording: %v; page problems: %s", err, b.problemsSoFar())
	}
	b.do(t, "seek to the end", chromedp.Evaluate[chromedp.Void](`window.jumpcastPlayer.seek(window.jumpcastPlayer.getDuration())`, chromedp.EvalAwaitPromise))
	b.waitTerminal(t, said, "second-line-of-the-session")
	b.screenshot(t, art, "e2e-player.png")
	b.checkClean(t, "player")

	b.do(t, "download the cast", chromedp.Click(chromedp.ID("download")))
	got := b.waitDownload(t, dlDir)
	want, err := os.ReadFile(e.castPath(rec))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("downloaded cast (%d bytes) differs from the file (%d bytes)", len(got), len(want))
	}
	b.checkClean(t, "download")

	watchLive(t, e, b, art)
}

// watchLive: a session that runs while the auditor watches; what it prints
// appears without a reload, and the page ends cleanly when it exits.
func watchLive(t *testing.T, e *e2e, b *e2eBrowser, art string) {
	t.Helper()
	live := e.startLiveSSH(t, e.login(),
		`printf 'live-ready \342\234\223\n'; while read l; do [ "$l" = quit ] && exit 0; printf 'got:%s \303\274\n' "$l"; done`)
	recs := waitRecordings(t, e.cfgPath, 1, func(r store.Recording) bool { return r.Status == store.StatusActive })
	var id string
	for _, r := range recs {
		if r.Status == store.StatusActive {
			id = r.ID
		}
	}
	b.load(t, "back to the list", chromedp.Navigate("http://"+e.srv.WebAddr+"/"))
	if badge := b.eval(t, `(function () { var b = document.querySelector('#recordings tr[data-id="`+id+`"] .badge'); return b ? b.textContent : ""; })()`); badge != "live" {
		t.Errorf("the running session's badge: %q, want live", badge)
	}
	b.load(t, "open the live session", chromedp.Click(chromedp.CSS(`#recordings tr[data-id="`+id+`"] a`)))
	b.do(t, "wait for the live player", chromedp.WaitVisible(chromedp.CSS("#player .ap-term")), chromedp.WaitVisible(chromedp.ID("live-note")))
	b.waitTerminal(t, "live-ready ✓")
	for _, word := range []string{"alpha", "beta"} {
		live.send(t, word)
		b.waitTerminal(t, "got:"+word+" ü")
	}
	b.screenshot(t, art, "e2e-live.png")
	b.checkClean(t, "live")

	live.send(t, "quit")
	if code := live.waitExit(t); code != 0 {
		t.Errorf("live ssh exit %d; output %q", code, live.out.String())
	}
	b.do(t, "wait for the end", chromedp.WaitVisible(chromedp.ID("live-ended")))
	if state := b.eval(t, `document.getElementById("player").dataset.state`); state != "ended" {
		t.Errorf("player state after the session ended: %q", state)
	}
	b.screenshot(t, art, "e2e-live-ended.png")
	b.checkClean(t, "live ended")
}
