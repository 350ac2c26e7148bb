package replayweb

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/jumpcast/jumpcast/recorder"
	"github.com/jumpcast/jumpcast/store"
)

const chromiumPath = "/usr/bin/chromium"

// requireBinary skips the test when path is not executable, or fails it
// when JUMPCAST_REQUIRE_REAL=1 (CI), like internal/sshtest.RequireBinary
// (not imported, so this package's tests do not build the SSH fixtures).
func requireBinary(t *testing.T, path string) {
	t.Helper()
	if _, err := exec.LookPath(path); err != nil {
		if os.Getenv("JUMPCAST_REQUIRE_REAL") == "1" {
			t.Fatalf("required binary %s: %v (JUMPCAST_REQUIRE_REAL=1)", path, err)
		}
		t.Skipf("binary %s not available: %v", path, err)
	}
}

// artifactDir is where screenshots go: $JUMPCAST_TEST_ARTIFACTS when set
// (CI keeps it), else the test's temporary folder.
func artifactDir(t *testing.T) string {
	if d := os.Getenv("JUMPCAST_TEST_ARTIFACTS"); d != "" {
		d = filepath.Join(d, "replayweb")
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

// browser starts a fresh headless Chromium on a closed network and returns
// its tab context plus the console messages and CSP violations it saw.
type browser struct {
	ctx context.Context

	mu       sync.Mutex // guards problems
	problems []string   // console errors, exceptions, CSP violations
}

// cspProbe records every securitypolicyviolation event in the page.
const cspProbe = `window.__csp = []; document.addEventListener("securitypolicyviolation", function (e) {
  window.__csp.push(e.violatedDirective + " " + e.blockedURI); });`

func newBrowser(t *testing.T, timeout time.Duration) *browser {
	t.Helper()
	requireBinary(t, chromiumPath)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
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
	b := &browser{ctx: tctx}
	if err := chromedp.Do(tctx); err != nil { // start the browser and the tab
		t.Fatalf("start chromium: %v", err)
	}
	if err := chromedp.Listen(tctx, b.onEvent); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(tctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: cspProbe}); err != nil {
		t.Fatal(err)
	}
	messages := chromedp.Console(tctx)
	go func() { // owner: this test; ends when the tab's context ends
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleWarning || m.IsException() {
				b.mu.Lock()
				b.problems = append(b.problems, fmt.Sprintf("console %s: %s (%s:%d)", m.Type, m.Text, m.URL, m.Line+1))
				b.mu.Unlock()
			}
		}
	}()
	return b
}

func (b *browser) onEvent(ev any) {}

// checkClean fails the test when the page reported a CSP violation or a
// console error.
func (b *browser) checkClean(t *testing.T, where string) {
	t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[[]string](`window.__csp || []`))
	if err != nil {
		t.Fatalf("%s: read CSP violations: %v", where, err)
	}
	for _, s := range v {
		t.Errorf("%s: CSP violation: %s", where, s)
	}
	time.Sleep(100 * time.Millisecond) // let the console iterator catch up
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, p := range b.problems {
		t.Errorf("%s: %s", where, p)
	}
	b.problems = nil
}

// problemsSoFar describes what the page reported, for a failure message.
func (b *browser) problemsSoFar() string {
	v, _ := chromedp.Run(b.ctx, chromedp.Evaluate[[]string](`window.__csp || []`))
	b.mu.Lock()
	defer b.mu.Unlock()
	return fmt.Sprintf("CSP violations %q, console %q", v, b.problems)
}

func (b *browser) do(t *testing.T, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// load runs trigger and waits for the page load it causes.
func (b *browser) load(t *testing.T, what string, trigger chromedp.Action[chromedp.Void]) {
	t.Helper()
	if _, err := chromedp.Run(b.ctx, chromedp.WaitEvent(page.LoadEventFired, nil, trigger)); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func (b *browser) screenshot(t *testing.T, dir, name string) string {
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
	return p
}

// terminalText is what the player's terminal shows now.
const terminalText = `(function () { var el = document.querySelector(".ap-term-text"); return el ? el.textContent : ""; })()`

// waitTerminal polls until the player's terminal shows want.
func (b *browser) waitTerminal(t *testing.T, want string) {
	t.Helper()
	js := fmt.Sprintf(`(%s).includes(%q)`, terminalText, want)
	if _, err := chromedp.Run(b.ctx, chromedp.Poll[bool](js, chromedp.WithPollingTimeout(15*time.Second))); err != nil {
		got, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](terminalText))
		t.Fatalf("the terminal never showed %q: %v; it shows %q; page problems: %s", want, err, got, b.problemsSoFar())
	}
}

func TestBrowserPlaysRecording(t *testing.T) {
	if testing.Short() {
		t.Skip("real browser")
	}
	e := newEnv(t, nil)
	// Some other sessions, so the filter has something to do.
	for i := range 5 {
		e.addRecording(store.Recording{User: "bob", RemoteUser: "www", TargetAlias: fmt.Sprintf("web%d", i), Kind: "shell", Duration: time.Duration(i+3) * time.Second, Title: "www@web — bob"}, sampleCast)
	}
	rec := e.recordSession(t, "alice", "db1", "root", []string{"$ uname -a\r\n", "Linux db1 6.1.0 x86_64 GNU/Linux\r\n", "$ echo recorded-through-jumpcast\r\n", "recorded-through-jumpcast\r\n", "$ exit\r\n"})
	ts := httptest.NewServer(e.srv.Handler())
	t.Cleanup(ts.Close)
	b := newBrowser(t, 55*time.Second)
	dir := artifactDir(t)

	b.do(t, "log in",
		chromedp.Navigate(ts.URL+"/"),
		chromedp.WaitVisible(chromedp.ID("password")),
		chromedp.SendKeys(chromedp.ID("name"), "alice"),
		chromedp.SendKeys(chromedp.ID("password"), testPassword),
		chromedp.Submit(chromedp.ID("password")),
		chromedp.WaitVisible(chromedp.ID("recordings")),
	)
	rows, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](`document.querySelectorAll("#recordings tbody tr").length`))
	if err != nil || rows != 6 {
		t.Fatalf("list: %d rows (%v), want 6", rows, err)
	}
	b.screenshot(t, dir, "list.png")
	b.do(t, "wide screen", chromedp.EmulateViewport(1920, 1080))
	b.screenshot(t, dir, "list-1920.png")
	b.do(t, "laptop screen", chromedp.EmulateViewport(1280, 900))
	b.checkClean(t, "list")

	b.do(t, "type a filter", chromedp.SendKeys(chromedp.ID("target"), "db1"))
	b.load(t, "apply the filter", chromedp.Submit(chromedp.ID("target")))
	loc, _ := chromedp.Run(b.ctx, chromedp.Location())
	rows, _ = chromedp.Run(b.ctx, chromedp.Evaluate[int](`document.querySelectorAll("#recordings tbody tr").length`))
	if rows != 1 || !strings.Contains(loc, "target=db1") {
		t.Fatalf("filtered list: %d rows at %s", rows, loc)
	}

	b.load(t, "open the recording", chromedp.Click(chromedp.CSS(`#recordings tr[data-id="`+rec.ID+`"] a`)))
	b.do(t, "wait for the player", chromedp.WaitVisible(chromedp.CSS("#player .ap-term")))
	// Wait until the cast is loaded (the player knows its duration), then
	// seek to the end like the End of the progress bar would.
	if _, err := chromedp.Run(b.ctx, chromedp.Poll[bool](`!!(window.jumpcastPlayer && window.jumpcastPlayer.getDuration() > 0)`, chromedp.WithPollingTimeout(15*time.Second))); err != nil {
		t.Fatalf("player never loaded the recording: %v; page problems: %s", err, b.problemsSoFar())
	}
	b.do(t, "seek to the end", chromedp.Evaluate[chromedp.Void](`window.jumpcastPlayer.seek(window.jumpcastPlayer.getDuration())`, chromedp.EvalAwaitPromise))
	b.waitTerminal(t, "recorded-through-jumpcast")
	b.waitTerminal(t, "Linux db1 6.1.0")
	b.screenshot(t, dir, "player.png")
	b.checkClean(t, "player")
	if ev := auditOf(t, e, rec.ID); len(ev) != 1 || ev[0] != "playback alice" {
		t.Errorf("audit after one page view: %v", ev)
	}
}

// recordSession records lines as a session's output with recorder.Writer
// (0.3 s apart on an injected clock, a marker before the last line) and
// indexes it as finished, as the proxy would.
func (e *env) recordSession(t *testing.T, user, target, remote string, lines []string) store.Recording {
	t.Helper()
	start := e.clock.Now().Add(-55 * time.Minute)
	id := recorder.NewID(start)
	f, rel, err := e.casts.Create(id)
	if err != nil {
		t.Fatal(err)
	}
	var now time.Duration
	w, err := recorder.NewWriter(f, recorder.Header{Width: 80, Height: 24, Timestamp: start.Unix(), Title: remote + "@" + target + " — " + user},
		recorder.WriterOptions{Clock: func() time.Duration { return now }})
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range lines {
		now = time.Duration(i+1) * 300 * time.Millisecond
		if i == len(lines)-1 {
			if err := w.Marker("last line"); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Output([]byte(l)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(recorder.Exit{Status: 0, HasStatus: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	sha, size, err := recorder.HashFile(f)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	zero := 0
	r := e.addRecording(store.Recording{
		ID: id, Start: start, Path: rel, User: user, TargetAlias: target, RemoteUser: remote, Kind: recorder.KindShell,
		Duration: now, ExitStatus: &zero, SHA256: sha, Title: remote + "@" + target + " — " + user,
		KeyFingerprint: "SHA256:2ZbvfJ1o6oPjE2xLwSd7c5vA8nqZ1Q3TzpLh4Yx0b9M", FileSize: size,
	}, "")
	return r
}

func TestBrowserWatchesLiveSession(t *testing.T) {
	if testing.Short() {
		t.Skip("real browser")
	}
	e, m := newLiveEnv(t)
	sess := startSession(t, m, "alice", "db2")
	defer sess.Close(context.Background(), recorder.Exit{})
	if err := sess.Output([]byte("$ tail -f /var/log/syslog\r\nline-before-the-auditor-came\r\n")); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(e.srv.Handler())
	t.Cleanup(ts.Close)
	b := newBrowser(t, 55*time.Second)
	dir := artifactDir(t)

	b.do(t, "log in",
		chromedp.Navigate(ts.URL+"/recordings/"+sess.ID()),
		chromedp.WaitVisible(chromedp.ID("password")),
		chromedp.SendKeys(chromedp.ID("name"), "alice"),
		chromedp.SendKeys(chromedp.ID("password"), testPassword),
	)
	b.load(t, "submit the login", chromedp.Submit(chromedp.ID("password")))
	b.do(t, "wait for the live player", chromedp.WaitVisible(chromedp.CSS("#player .ap-term")), chromedp.WaitVisible(chromedp.ID("live-note")))
	b.waitTerminal(t, "line-before-the-auditor-came")

	// Output while the page is open appears without a reload.
	for i := range 3 {
		if err := sess.Output(fmt.Appendf(nil, "live-line-%d\r\n", i)); err != nil {
			t.Fatal(err)
		}
		b.waitTerminal(t, fmt.Sprintf("live-line-%d", i))
	}
	b.screenshot(t, dir, "live.png")

	// The session ends: the player says so and the page offers the recording.
	if err := sess.Close(t.Context(), recorder.Exit{Status: 0, HasStatus: true}); err != nil {
		t.Fatal(err)
	}
	b.do(t, "wait for the end", chromedp.WaitVisible(chromedp.ID("live-ended")))
	state, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.getElementById("player").dataset.state`))
	if state != "ended" {
		t.Errorf("player state after the session ended: %q", state)
	}
	b.checkClean(t, "live")
	b.load(t, "open the whole recording", chromedp.Click(chromedp.CSS("#live-ended a")))
	if _, err := chromedp.Run(b.ctx, chromedp.Poll[bool](`!!(window.jumpcastPlayer && window.jumpcastPlayer.getDuration() > 0)`, chromedp.WithPollingTimeout(15*time.Second))); err != nil {
		t.Fatalf("the finished recording did not load: %v; %s", err, b.problemsSoFar())
	}
	b.do(t, "seek to the end", chromedp.Evaluate[chromedp.Void](`window.jumpcastPlayer.seek(window.jumpcastPlayer.getDuration())`, chromedp.EvalAwaitPromise))
	b.waitTerminal(t, "live-line-2")
	b.checkClean(t, "recording after live")
}

// TestBrowserHostileRecording: a recording whose index fields, output and
// markers (sftp markers carry the paths an admin chose) hold HTML is played
// in Chromium: the payloads show as text, no element is injected, nothing
// runs, and the CSP reports nothing (an inline handler that got through
// would be a violation).
func TestBrowserHostileRecording(t *testing.T) {
	if testing.Short() {
		t.Skip("real browser")
	}
	e := newEnv(t, nil)
	const img = `<img src=x id=xss onerror="window.__xss=1">`
	line := func(v ...any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return string(b) + "\n"
	}
	cast := `{"version":2,"width":80,"height":24,"timestamp":1795510800,"title":"` + `\u003cscript\u003ewindow.__xss=3\u003c/script\u003e"}` + "\n" +
		line(0.1, "o", "$ sftp put\r\n") +
		line(0.2, "m", `[sftp: open "/tmp/`+img+`" write]`) +
		line(0.3, "o", "printed: "+img+" <script>window.__xss=2</script>\r\n") +
		line(0.4, "m", `[sftp: rename "/a" "/`+img+`"]`) +
		line(0.5, "o", "$ exit\r\n")
	f := evilFields()
	f.Status = store.StatusFinished
	f.Title, f.Command = img, "<script>window.__xss=4</script>"
	f.Duration = 500 * time.Millisecond
	rec := e.addRecording(f, cast)
	ts := httptest.NewServer(e.srv.Handler())
	t.Cleanup(ts.Close)
	b := newBrowser(t, 55*time.Second)

	b.do(t, "log in",
		chromedp.Navigate(ts.URL+"/recordings/"+rec.ID),
		chromedp.WaitVisible(chromedp.ID("password")),
		chromedp.SendKeys(chromedp.ID("name"), "alice"),
		chromedp.SendKeys(chromedp.ID("password"), testPassword),
	)
	b.load(t, "submit the login", chromedp.Submit(chromedp.ID("password")))
	if _, err := chromedp.Run(b.ctx, chromedp.Poll[bool](`!!(window.jumpcastPlayer && window.jumpcastPlayer.getDuration() > 0)`, chromedp.WithPollingTimeout(15*time.Second))); err != nil {
		t.Fatalf("the player never loaded the recording: %v; %s", err, b.problemsSoFar())
	}
	b.do(t, "seek to the end", chromedp.Evaluate[chromedp.Void](`window.jumpcastPlayer.seek(window.jumpcastPlayer.getDuration())`, chromedp.EvalAwaitPromise))
	b.waitTerminal(t, "printed: <img src=x")
	// The player puts each marker's label in a tooltip on the progress bar.
	markers, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](`document.querySelectorAll(".ap-marker-container").length`))
	if err != nil || markers != 2 {
		t.Errorf("markers on the progress bar: %d (%v), want 2", markers, err)
	}
	tips, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`Array.from(document.querySelectorAll(".ap-marker-container .ap-tooltip")).map(function (e) { return e.textContent; }).join("|")`))
	if err != nil {
		t.Fatal(err)
	}
	if markers == 2 && !strings.Contains(tips, `/tmp/<img src=x`) {
		t.Errorf("marker tooltips %q do not show the path as text", tips)
	}
	got, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`JSON.stringify({xss: window.__xss || 0, imgs: document.querySelectorAll("img#xss, img[src='x']").length, scripts: Array.from(document.scripts).filter(function (s) { return !s.src; }).length})`))
	if err != nil {
		t.Fatal(err)
	}
	if got != `{"xss":0,"imgs":0,"scripts":0}` {
		t.Errorf("the page ran or built attacker markup: %s", got)
	}
	b.checkClean(t, "hostile recording")
}
