package replayweb

import (
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/jumpcast/jumpcast/internal/browsertest"
	"github.com/jumpcast/jumpcast/internal/recording"
)

// TestBrowserPlayerControls drives the recording page's controls as an
// auditor would, on a raw .cast such as older versions wrote: the poster
// before play, markers on the bar and ]/[ between them, stepping with . and
// ,, skipping a minute of idle time at 16×, the shortcuts list, and the
// activity graph under the bar.
func TestBrowserPlayerControls(t *testing.T) {
	if testing.Short() {
		t.Skip("real browser")
	}
	e := newEnv(t, nil)
	cast := `{"version": 2, "width": 80, "height": 24}
[0.5, "o", "first-line\r\n"]
[1.0, "o", "second-line\r\n"]
[2.0, "m", "deploy starts"]
[2.5, "o", "\u001b[1;32mthird-line\u001b[0m\r\n"]
[5.0, "m", "deploy ends"]
[5.5, "o", "fourth-line\r\n"]
[65.5, "o", "after-a-minute-of-nothing\r\n"]
`
	rec := e.addRecording(recording.Meta{Duration: 65500 * time.Millisecond}, cast)
	ts := httptest.NewServer(e.srv.Handler())
	t.Cleanup(ts.Close)
	b := browsertest.New(t, 55*time.Second, "")
	b.LogIn(t, ts.URL+"/recordings/"+rec.ID, "alice", testPassword)
	if _, err := chromedp.Run(b.Ctx(), chromedp.Poll[bool](`document.getElementById("player").dataset.state === "ready"`, chromedp.WithPollingTimeout(15*time.Second))); err != nil {
		t.Fatalf("no poster: %v; %s", err, b.ProblemsSoFar())
	}
	// The poster is the screen after the busiest stretch (the first ten
	// seconds: a chunk; the line a minute later is another); play starts at 0.
	b.WaitTerminal(t, "first-line", "fourth-line")
	if text := b.Eval(t, browsertest.TerminalText); strings.Contains(text, "after-a-minute") {
		t.Errorf("the poster shows the quiet end, not the busiest stretch:\n%s", text)
	}
	if at := b.Eval(t, `String(window.jumpcastPlayer.getCurrentTime())`); at != "0" {
		t.Errorf("the poster's play head is at %s, want 0", at)
	}
	if n := b.Eval(t, `String(document.querySelectorAll("#markers .marker").length)`); n != "2" {
		t.Errorf("%s markers on the bar, want 2", n)
	}
	lit := b.Eval(t, `(function () { var c = document.getElementById("activity"), d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data, n = 0; for (var i = 3; i < d.length; i += 4) if (d[i]) n++; return String(n); })()`)
	if lit == "0" {
		t.Error("the activity graph under the seek bar is empty")
	}

	// key presses k and waits until the player is at wantT showing
	// wantText and, when given, no longer showing absent (the screen is
	// repainted from a keyframe after the play head moves).
	key := func(k string, wantT float64, wantText string, absent ...string) {
		t.Helper()
		b.Do(t, "press "+k, chromedp.KeyEvent(k))
		js := fmt.Sprintf(`Math.abs(window.jumpcastPlayer.getCurrentTime() - %v) < 0.01 && window.jumpcastPlayer.screenText().includes(%q)`, wantT, wantText)
		for _, a := range absent {
			js += fmt.Sprintf(` && !window.jumpcastPlayer.screenText().includes(%q)`, a)
		}
		if _, err := chromedp.Run(b.Ctx(), chromedp.Poll[bool](js, chromedp.WithPollingTimeout(10*time.Second))); err != nil {
			t.Fatalf("after %q: at %s showing %q, want %v and %q without %q", k, b.Eval(t, `String(window.jumpcastPlayer.getCurrentTime())`), b.Eval(t, browsertest.TerminalText), wantT, wantText, absent)
		}
	}
	// At the first marker the screen must not show what came later.
	key("]", 2, "second-line", "third-line")
	key("]", 5, "third-line")
	key("[", 2, "second-line")
	key(".", 2.5, "third-line")
	key(",", 2, "second-line") // back to before third-line
	key(kb.ArrowRight, 7, "fourth-line")

	// 16×, idle over 1 s skipped: the minute of nothing passes at once.
	b.Do(t, "speed 16×", chromedp.SetValue(chromedp.ID("speed"), "16"), chromedp.Evaluate[chromedp.Void](`document.getElementById("speed").dispatchEvent(new Event("change"))`))
	b.Do(t, "skip idle over 1 s", chromedp.SetValue(chromedp.ID("idle"), "1"), chromedp.Evaluate[chromedp.Void](`document.getElementById("idle").dispatchEvent(new Event("change"))`))
	start := time.Now()
	b.Do(t, "play", chromedp.Evaluate[chromedp.Void](`document.body.focus()`), chromedp.KeyEvent(" "))
	if _, err := chromedp.Run(b.Ctx(), chromedp.Poll[bool](`document.getElementById("player").dataset.state === "ended"`, chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		t.Fatalf("playback did not reach the end: %v; state %s", err, b.Eval(t, `document.getElementById("player").dataset.state`))
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("a minute of idle time at 16× with idle skipping took %v", d)
	}
	b.WaitTerminal(t, "after-a-minute-of-nothing")

	b.Do(t, "show the shortcuts", chromedp.KeyEvent("?"))
	if hidden := b.Eval(t, `String(document.getElementById("shortcuts").hidden)`); hidden != "false" {
		t.Error("? did not show the shortcuts")
	}
	b.CheckClean(t, "player controls")
}
