package replayweb

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"

	"github.com/jumpcast/jumpcast/internal/audit"
	"github.com/jumpcast/jumpcast/internal/browsertest"
	"github.com/jumpcast/jumpcast/internal/recording"
	"github.com/jumpcast/jumpcast/recorder"
	"github.com/jumpcast/jumpcast/recorder/asciicast"
)

func TestBrowserPlaysRecording(t *testing.T) {
	if testing.Short() {
		t.Skip("real browser")
	}
	e := newEnv(t, nil)
	// Some other sessions, so the filter has something to do.
	for i := range 5 {
		e.addRecording(recording.Meta{User: "bob", RemoteUser: "www", TargetAlias: fmt.Sprintf("web%d", i), Kind: "shell", Duration: time.Duration(i+3) * time.Second, Title: "www@web — bob"}, sampleCast)
	}
	rec := e.recordSession(t, "alice", "db1", "root", []string{"$ uname -a\r\n", "Linux db1 6.1.0 x86_64 GNU/Linux\r\n", "$ echo recorded-through-jumpcast\r\n", "recorded-through-jumpcast\r\n", "$ exit\r\n"})
	ts := httptest.NewServer(e.srv.Handler())
	t.Cleanup(ts.Close)
	b := browsertest.New(t, 55*time.Second, "")
	dir := browsertest.ArtifactDir(t, "replayweb")

	b.LogIn(t, ts.URL+"/", "alice", testPassword)
	b.Do(t, "see the list", chromedp.WaitVisible(chromedp.ID("recordings")))
	rows, err := chromedp.Run(b.Ctx(), chromedp.Evaluate[int](`document.querySelectorAll("#recordings tbody tr").length`))
	if err != nil || rows != 6 {
		t.Fatalf("list: %d rows (%v), want 6", rows, err)
	}
	b.Screenshot(t, dir, "list.png")
	b.Do(t, "wide screen", chromedp.EmulateViewport(1920, 1080))
	b.Screenshot(t, dir, "list-1920.png")
	b.Do(t, "laptop screen", chromedp.EmulateViewport(1280, 900))
	b.CheckClean(t, "list")

	b.Do(t, "type a filter", chromedp.SendKeys(chromedp.ID("target"), "db1"))
	b.Load(t, "apply the filter", chromedp.Submit(chromedp.ID("target")))
	loc, _ := chromedp.Run(b.Ctx(), chromedp.Location())
	rows, _ = chromedp.Run(b.Ctx(), chromedp.Evaluate[int](`document.querySelectorAll("#recordings tbody tr").length`))
	if rows != 1 || !strings.Contains(loc, "target=db1") {
		t.Fatalf("filtered list: %d rows at %s", rows, loc)
	}

	b.Load(t, "open the recording", chromedp.Click(chromedp.CSS(`#recordings tr[data-id="`+rec.ID+`"] a`)))
	b.Do(t, "wait for the player", chromedp.WaitVisible(chromedp.CSS("#player .xterm-screen")))
	// Wait until the cast is loaded (the player knows its duration), then
	// seek to the end like the End of the progress bar would.
	if _, err := chromedp.Run(b.Ctx(), chromedp.Poll[bool](`!!(window.jumpcastPlayer && window.jumpcastPlayer.getDuration() > 0)`, chromedp.WithPollingTimeout(15*time.Second))); err != nil {
		t.Fatalf("player never loaded the recording: %v; page problems: %s", err, b.ProblemsSoFar())
	}
	b.Do(t, "seek to the end", chromedp.Evaluate[chromedp.Void](`window.jumpcastPlayer.seek(window.jumpcastPlayer.getDuration())`, chromedp.EvalAwaitPromise))
	b.WaitTerminal(t, "recorded-through-jumpcast")
	b.WaitTerminal(t, "Linux db1 6.1.0")
	b.Screenshot(t, dir, "player.png")
	b.CheckClean(t, "player")
	// The list previewed it, then the page played it.
	if ev := auditOf(t, e, rec.ID); !slices.Equal(ev, []string{auditLine(audit.KindPreview, "alice"), auditLine(audit.KindPlayback, "alice")}) {
		t.Errorf("audit after one page view: %v", ev)
	}
}

// recordSession records lines as a session's output with asciicast.Writer
// (0.3 s apart on an injected clock, a marker before the last line) and
// indexes it as finished, as the proxy would.
func (e *env) recordSession(t *testing.T, user, target, remote string, lines []string) recording.Meta {
	t.Helper()
	start := e.clock.Now().Add(-55 * time.Minute)
	id := recording.NewID(start)
	f, rel, err := e.casts.Create(id)
	if err != nil {
		t.Fatal(err)
	}
	var now time.Duration
	w, err := asciicast.NewWriter(f, asciicast.Header{Width: 80, Height: 24, Timestamp: start.Unix(), Title: remote + "@" + target + " — " + user},
		asciicast.WriterOptions{Clock: func() time.Duration { return now }})
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
	if err := w.Close(asciicast.Exit{Status: 0, HasStatus: true}); err != nil {
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
	r := e.addRecording(recording.Meta{
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
	defer sess.Close(context.Background(), asciicast.Exit{})
	if err := sess.Output([]byte("$ tail -f /var/log/syslog\r\nline-before-the-auditor-came\r\n")); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(e.srv.Handler())
	t.Cleanup(ts.Close)
	b := browsertest.New(t, 55*time.Second, "")
	dir := browsertest.ArtifactDir(t, "replayweb")

	b.LogIn(t, ts.URL+"/recordings/"+sess.ID(), "alice", testPassword)
	b.Do(t, "wait for the live player", chromedp.WaitVisible(chromedp.CSS("#player .xterm-screen")), chromedp.WaitVisible(chromedp.ID("live-note")))
	b.WaitTerminal(t, "line-before-the-auditor-came")

	// Output while the page is open appears without a reload.
	for i := range 3 {
		if err := sess.Output(fmt.Appendf(nil, "live-line-%d\r\n", i)); err != nil {
			t.Fatal(err)
		}
		b.WaitTerminal(t, fmt.Sprintf("live-line-%d", i))
	}
	b.Screenshot(t, dir, "live.png")

	// The session ends: the player says so and the page offers the recording.
	if err := sess.Close(t.Context(), asciicast.Exit{Status: 0, HasStatus: true}); err != nil {
		t.Fatal(err)
	}
	b.Do(t, "wait for the end", chromedp.WaitVisible(chromedp.ID("live-ended")))
	state, _ := chromedp.Run(b.Ctx(), chromedp.Evaluate[string](`document.getElementById("player").dataset.state`))
	if state != "ended" {
		t.Errorf("player state after the session ended: %q", state)
	}
	b.CheckClean(t, "live")
	b.Load(t, "open the whole recording", chromedp.Click(chromedp.CSS("#live-ended a")))
	if _, err := chromedp.Run(b.Ctx(), chromedp.Poll[bool](`!!(window.jumpcastPlayer && window.jumpcastPlayer.getDuration() > 0)`, chromedp.WithPollingTimeout(15*time.Second))); err != nil {
		t.Fatalf("the finished recording did not load: %v; %s", err, b.ProblemsSoFar())
	}
	b.Do(t, "seek to the end", chromedp.Evaluate[chromedp.Void](`window.jumpcastPlayer.seek(window.jumpcastPlayer.getDuration())`, chromedp.EvalAwaitPromise))
	b.WaitTerminal(t, "live-line-2")
	b.CheckClean(t, "recording after live")
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
	f.Status = recording.StatusFinished
	f.Title, f.Command = img, "<script>window.__xss=4</script>"
	f.Duration = 500 * time.Millisecond
	rec := e.addRecording(f, cast)
	ts := httptest.NewServer(e.srv.Handler())
	t.Cleanup(ts.Close)
	b := browsertest.New(t, 55*time.Second, "")

	b.LogIn(t, ts.URL+"/recordings/"+rec.ID, "alice", testPassword)
	if _, err := chromedp.Run(b.Ctx(), chromedp.Poll[bool](`!!(window.jumpcastPlayer && window.jumpcastPlayer.getDuration() > 0)`, chromedp.WithPollingTimeout(15*time.Second))); err != nil {
		t.Fatalf("the player never loaded the recording: %v; %s", err, b.ProblemsSoFar())
	}
	b.Do(t, "seek to the end", chromedp.Evaluate[chromedp.Void](`window.jumpcastPlayer.seek(window.jumpcastPlayer.getDuration())`, chromedp.EvalAwaitPromise))
	b.WaitTerminal(t, "printed: <img src=x")
	// The page puts each marker on the seek bar, its label as the tooltip.
	markers, err := chromedp.Run(b.Ctx(), chromedp.Evaluate[int](`document.querySelectorAll("#markers .marker").length`))
	if err != nil || markers != 2 {
		t.Errorf("markers on the seek bar: %d (%v), want 2", markers, err)
	}
	tips, err := chromedp.Run(b.Ctx(), chromedp.Evaluate[string](`Array.from(document.querySelectorAll("#markers .marker")).map(function (e) { return e.title; }).join("|")`))
	if err != nil {
		t.Fatal(err)
	}
	if markers == 2 && !strings.Contains(tips, `/tmp/<img src=x`) {
		t.Errorf("marker tooltips %q do not show the path as text", tips)
	}
	got, err := chromedp.Run(b.Ctx(), chromedp.Evaluate[string](`JSON.stringify({xss: window.__xss || 0, imgs: document.querySelectorAll("img#xss, img[src='x']").length, scripts: Array.from(document.scripts).filter(function (s) { return !s.src; }).length})`))
	if err != nil {
		t.Fatal(err)
	}
	if got != `{"xss":0,"imgs":0,"scripts":0}` {
		t.Errorf("the page ran or built attacker markup: %s", got)
	}
	b.CheckClean(t, "hostile recording")
}

// TestBrowserOpensAtTime: /recordings/ID?t=SECONDS (the link `jumpcast
// recordings grep --json` prints) opens the player paused at that moment
// of the recording — what was printed before it shows, what came later
// does not — with the idle limit off so that times are the file's.
func TestBrowserOpensAtTime(t *testing.T) {
	if testing.Short() {
		t.Skip("real browser")
	}
	e := newEnv(t, nil)
	cast := `{"version": 2, "width": 80, "height": 24}
[0.5, "o", "first-line\r\n"]
[12.0, "o", "the-moment\r\n"]
[20.0, "o", "much-later\r\n"]
`
	rec := e.addRecording(recording.Meta{Duration: 20 * time.Second}, cast)
	ts := httptest.NewServer(e.srv.Handler())
	t.Cleanup(ts.Close)
	b := browsertest.New(t, 55*time.Second, "")
	b.LogIn(t, ts.URL+"/recordings/"+rec.ID+"?t=12.5", "alice", testPassword)
	if _, err := chromedp.Run(b.Ctx(), chromedp.Poll[bool](`!!(window.jumpcastPlayer && window.jumpcastPlayer.getCurrentTime() > 0)`, chromedp.WithPollingTimeout(15*time.Second))); err != nil {
		t.Fatalf("the player never moved to the time: %v; %s", err, b.ProblemsSoFar())
	}
	b.WaitTerminal(t, "first-line", "the-moment")
	at, err := chromedp.Run(b.Ctx(), chromedp.Evaluate[float64](`window.jumpcastPlayer.getCurrentTime()`))
	if err != nil || at < 12 || at > 13 {
		t.Errorf("player at %v s (%v), want 12.5", at, err)
	}
	if text := b.Eval(t, `document.querySelector("#player").textContent`); strings.Contains(text, "much-later") {
		t.Error("the terminal shows output from after the time")
	}
	if idle := b.Eval(t, `document.getElementById("idle").value`); idle != "0" {
		t.Errorf("idle limit %q, want off", idle)
	}
	b.CheckClean(t, "open at a time")
}

// TestBrowserListPreviews: the list shows each recording's screen at its
// most active moment, readable on hover; the thumbnail opens the player
// there; rows far below are not previewed (nor audited) until scrolled to.
func TestBrowserListPreviews(t *testing.T) {
	if testing.Short() {
		t.Skip("real browser")
	}
	e := newEnv(t, nil)
	var far []recording.Meta
	for range 30 {
		far = append(far, e.addRecording(recording.Meta{}, sampleCast))
	}
	rec := e.addRecording(recording.Meta{Duration: 30 * time.Second}, busyCast) // newest: the first row
	ts := httptest.NewServer(e.srv.Handler())
	t.Cleanup(ts.Close)
	b := browsertest.New(t, 55*time.Second, "")
	dir := browsertest.ArtifactDir(t, "replayweb")

	b.LogIn(t, ts.URL+"/", "alice", testPassword)
	thumb := `document.querySelector('a.thumb[data-preview="` + rec.ID + `"]')`
	if _, err := chromedp.Run(b.Ctx(), chromedp.Poll[bool](`!!(`+thumb+` && `+thumb+`.classList.contains("ready"))`, chromedp.WithPollingTimeout(15*time.Second))); err != nil {
		t.Fatalf("no preview in the first row: %v; %s", err, b.ProblemsSoFar())
	}
	if text := b.Eval(t, thumb+`.textContent`); !strings.HasPrefix(text, " build finished: 7 objects\n OK") {
		t.Errorf("the thumbnail's text: %q", text)
	}
	var pos struct{ X, Y float64 }
	if err := json.Unmarshal([]byte(b.Eval(t, `(function () { var r = `+thumb+`.getBoundingClientRect(); return JSON.stringify({x: r.left + r.width / 2, y: r.top + r.height / 2}); })()`)), &pos); err != nil {
		t.Fatal(err)
	}
	b.Do(t, "hover the thumbnail", chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, pos.X, pos.Y))
	big := b.Eval(t, `(function () { var b = document.querySelector(".shot-big"); return b.hidden ? "hidden" : b.textContent; })()`)
	if !strings.Contains(big, "build finished: 7 objects") || !strings.Contains(big, "+0:12") {
		t.Errorf("the enlarged preview: %q", big)
	}
	b.Screenshot(t, dir, "list-preview.png")
	b.CheckClean(t, "list previews")
	// The last rows were below the fold: not previewed, not audited.
	if got := auditOf(t, e, far[0].ID); len(got) != 0 {
		t.Errorf("a row below the fold was previewed: %v", got)
	}
	if got := auditOf(t, e, rec.ID); len(got) != 1 || got[0] != auditLine(audit.KindPreview, "alice") {
		t.Errorf("audit of the previewed recording: %v", got)
	}

	b.Load(t, "open the player from the thumbnail", chromedp.Click(chromedp.CSS(`a.thumb[data-preview="`+rec.ID+`"]`)))
	if _, err := chromedp.Run(b.Ctx(), chromedp.Poll[bool](`!!(window.jumpcastPlayer && window.jumpcastPlayer.getCurrentTime() > 0)`, chromedp.WithPollingTimeout(15*time.Second))); err != nil {
		t.Fatalf("the player never moved to the moment: %v; %s", err, b.ProblemsSoFar())
	}
	b.WaitTerminal(t, "build finished: 7 objects")
	if at := b.Eval(t, `String(window.jumpcastPlayer.getCurrentTime())`); at != "12.5" {
		t.Errorf("player at %s s, want 12.5", at)
	}
}
