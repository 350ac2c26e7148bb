// Package browsertest drives Debian's Chromium (through chromedp) for the
// tests that check what an auditor sees: a headless tab on a closed
// network that records every console error, uncaught exception and CSP
// violation, with helpers to wait for the player's terminal, take
// screenshots and catch downloads. replayweb's tests and cmd/jumpcast's
// end-to-end test share it.
package browsertest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/jumpcast/jumpcast/internal/sshtest"
)

// Chromium is the browser the tests drive (Debian's package).
const Chromium = "/usr/bin/chromium"

// TerminalText is JavaScript that evaluates to what the player's terminal
// shows now, read from xterm.js's buffer: one line per row, trailing
// blanks trimmed.
const TerminalText = `(function () { var p = window.jumpcastPlayer; return p && p.screenText ? p.screenText() : ""; })()`

// cspProbe records every securitypolicyviolation event in the page.
const cspProbe = `window.__csp = []; document.addEventListener("securitypolicyviolation", function (e) {
  window.__csp.push(e.violatedDirective + " " + e.blockedURI); });`

// Browser is one headless Chromium tab and what the page reported.
type Browser struct {
	ctx         context.Context
	downloadDir string

	mu        sync.Mutex // guards problems and downloads
	problems  []string   // console errors and warnings, exceptions, log entries
	downloads map[string]browser.EventDownloadProgress
}

// New starts Chromium (skipping the test when it is missing, failing it
// under JUMPCAST_REQUIRE_REAL=1): headless, no background networking, no
// sandbox when root, everything ended when timeout passes or the test
// ends. downloadDir, when not empty, receives downloads (see
// WaitDownload).
func New(t *testing.T, timeout time.Duration, downloadDir string) *Browser {
	t.Helper()
	sshtest.RequireBinary(t, Chromium)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(Chromium),
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
	b := &Browser{ctx: tctx, downloadDir: downloadDir, downloads: map[string]browser.EventDownloadProgress{}}
	if err := chromedp.Do(tctx); err != nil { // start the browser and the tab
		t.Fatalf("start chromium: %v", err)
	}
	if _, err := chromedp.Call(tctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: cspProbe}); err != nil {
		t.Fatal(err)
	}
	if downloadDir != "" {
		b.catchDownloads(t)
	}
	b.collectConsole()
	return b
}

func (b *Browser) catchDownloads(t *testing.T) {
	t.Helper()
	yes := true
	if _, err := chromedp.CallBrowser(b.ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: b.downloadDir, EventsEnabled: &yes,
	}); err != nil {
		t.Fatalf("set download folder: %v", err)
	}
	if err := chromedp.ListenBrowser(b.ctx, func(ev any) {
		if p, ok := ev.(*browser.EventDownloadProgress); ok {
			b.mu.Lock()
			b.downloads[p.GUID] = *p
			b.mu.Unlock()
		}
	}); err != nil {
		t.Fatal(err)
	}
}

// collectConsole reads the console API, uncaught exceptions and the
// browser log (where Chromium reports CSP violations and failed loads).
func (b *Browser) collectConsole() {
	messages := chromedp.Console(b.ctx)
	go func() { // owner: the Browser; ends when the tab's context ends
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
}

// Ctx is the tab's context, for chromedp calls the helpers do not cover.
func (b *Browser) Ctx() context.Context { return b.ctx }

// Do runs steps, failing the test with what the page reported on error.
func (b *Browser) Do(t *testing.T, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		t.Fatalf("%s: %v; page problems: %s", what, err, b.ProblemsSoFar())
	}
}

// Load runs trigger and waits for the page load it causes.
func (b *Browser) Load(t *testing.T, what string, trigger chromedp.Action[chromedp.Void]) {
	t.Helper()
	if _, err := chromedp.Run(b.ctx, chromedp.WaitEvent(page.LoadEventFired, nil, trigger)); err != nil {
		t.Fatalf("%s: %v; page problems: %s", what, err, b.ProblemsSoFar())
	}
}

// LogIn opens url, which must answer with the login form (a page that
// needs a login redirects there), signs in as name and waits for the page
// the form leads to.
func (b *Browser) LogIn(t *testing.T, url, name, password string) {
	t.Helper()
	b.Load(t, "open "+url, chromedp.Navigate(url))
	b.Do(t, "fill in the login form",
		chromedp.WaitVisible(chromedp.ID("password")),
		chromedp.SendKeys(chromedp.ID("name"), name),
		chromedp.SendKeys(chromedp.ID("password"), password),
	)
	b.Load(t, "submit the login", chromedp.Submit(chromedp.ID("password")))
}

// Eval evaluates js, which must produce a string.
func (b *Browser) Eval(t *testing.T, js string) string {
	t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](js))
	if err != nil {
		t.Fatalf("evaluate %.60q: %v", js, err)
	}
	return v
}

// Screenshot saves a full-page PNG as dir/name and returns its path.
// Take it after the page's clicks, not between them: after a full-page
// capture (captureBeyondViewport), Chromium 156 headless dropped mouse
// clicks on the page — a submit button clicked with chromedp.Click or at
// its coordinates did nothing, while elementFromPoint named the button.
func (b *Browser) Screenshot(t *testing.T, dir, name string) string {
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

// CheckClean fails the test on any CSP violation or console problem so
// far, and forgets them.
func (b *Browser) CheckClean(t *testing.T, where string) {
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

// ProblemsSoFar describes what the page reported, for a failure message.
func (b *Browser) ProblemsSoFar() string {
	v, _ := chromedp.Run(b.ctx, chromedp.Evaluate[[]string](`window.__csp || []`))
	b.mu.Lock()
	defer b.mu.Unlock()
	return fmt.Sprintf("CSP violations %q, console %q", v, b.problems)
}

// WaitTerminal polls (15 s) until the player's terminal shows every one of
// want.
func (b *Browser) WaitTerminal(t *testing.T, want ...string) {
	t.Helper()
	var conds []string
	for _, w := range want {
		conds = append(conds, fmt.Sprintf(`t.includes(%q)`, w))
	}
	js := fmt.Sprintf(`(function () { var t = %s; return %s; })()`, TerminalText, strings.Join(conds, " && "))
	if _, err := chromedp.Run(b.ctx, chromedp.Poll[bool](js, chromedp.WithPollingTimeout(15*time.Second))); err != nil {
		got, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](TerminalText))
		t.Fatalf("the terminal never showed %q: %v; it shows %q; page problems: %s", want, err, got, b.ProblemsSoFar())
	}
}

// WaitDownload waits (15 s) for a completed download and returns its
// bytes. New must have been given a download folder.
func (b *Browser) WaitDownload(t *testing.T) []byte {
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
				p = filepath.Join(b.downloadDir, done.GUID) // allowAndName names files by GUID
			}
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatalf("read the downloaded file: %v", err)
			}
			return data
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("no download completed in 15s; page problems: %s", b.ProblemsSoFar())
	return nil
}

// ArtifactDir is where screenshots go: $JUMPCAST_TEST_ARTIFACTS/sub when
// set (CI keeps it), else the test's temporary folder.
func ArtifactDir(t *testing.T, sub string) string {
	t.Helper()
	if d := os.Getenv("JUMPCAST_TEST_ARTIFACTS"); d != "" {
		d = filepath.Join(d, sub)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}
