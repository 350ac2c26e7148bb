package main

import (
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/vt"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/jumpcast/jumpcast/internal/browsertest"
	"github.com/jumpcast/jumpcast/internal/recording"
	"github.com/jumpcast/jumpcast/recorder/asciicast"
)

// longSessionScript prints about 13 MB through the bastion in 24 blocks
// a quarter of a second apart, each starting with a cleared screen and a
// coloured title, so that the recording has many chunks and the screen at
// a moment depends on where in the recording it is.
const longSessionScript = `i=0; while [ $i -lt 24 ]; do printf '\033[2J\033[H\033[1;3%dmblock %d\033[0m\n' $((i%7+1)) $i; ` +
	`seq -f "block-$i line %07g: the quick brown fox jumps over the lazy dog" 1 8000; sleep 0.25; i=$((i+1)); done; exit 0`

// screenAt is what the terminal showed at one moment, as the page read it.
type screenAt struct {
	what string
	t    float64
	cut  int // bytes of the output event at t shown (a search hit's link); 0 all
	text string
}

// TestBrowserLongRecording: a session of tens of MB recorded through a
// real `jumpcast serve` with the real ssh client opens in Chromium with a
// poster, plays, pauses, seeks by the bar and by the keyboard, and after
// each step the terminal shows exactly the screen that replaying the
// recording from its start up to that time gives (charmbracelet/x/vt),
// while the page holds only a few chunks.
func TestBrowserLongRecording(t *testing.T) {
	e := startBrowserE2E(t)
	if out, errOut, code := e.ssh(t, "", "-tt", e.login(), longSessionScript); code != 0 || !strings.Contains(out, "block-23 line 0008000") {
		t.Fatalf("long session: exit %d, stderr %q, output ends %q", code, errOut, out[max(0, len(out)-200):])
	}
	const pw = "long recording passphrase"
	if _, errOut, code := runJumpcast(t, pw+"\n", "auditor", "add", "carol", "-c", e.cfgPath); code != 0 {
		t.Fatalf("auditor add: exit %d: %s", code, errOut)
	}
	recs := waitRecordings(t, e.cfgPath, 1, func(r recording.Meta) bool { return r.Status == recording.StatusFinished })
	rec := recs[0]
	if rec.BytesOut < 10<<20 {
		t.Fatalf("the session printed %d bytes, want tens of MB", rec.BytesOut)
	}

	b := browsertest.New(t, 90*time.Second, "")
	art := browsertest.ArtifactDir(t, "e2e")
	b.LogIn(t, "http://"+e.srv.WebAddr+"/recordings/"+rec.ID, "carol", pw)
	if _, err := chromedp.Run(b.Ctx(), chromedp.Poll[bool](`!!(window.jumpcastPlayer && window.jumpcastPlayer.state && document.getElementById("player").dataset.state === "ready")`,
		chromedp.WithPollingTimeout(45*time.Second))); err != nil {
		t.Fatalf("the page never showed its poster: %v; %s", err, b.ProblemsSoFar())
	}
	if n := evalFloat(t, b, `window.jumpcastPlayer.chunkCount()`); n < 8 {
		t.Errorf("the recording has %v chunks, want many", n)
	}
	var shots []screenAt
	snap := func(what string) {
		t.Helper()
		b.Do(t, "let the terminal draw", chromedp.Evaluate[chromedp.Void](`window.jumpcastPlayer.settled()`, chromedp.EvalAwaitPromise))
		at := evalFloat(t, b, `window.jumpcastPlayer.getCurrentTime()`)
		if what == "poster" {
			at = evalFloat(t, b, `window.jumpcastPlayer.posterAt()`)
		}
		shots = append(shots, screenAt{what: what, t: at, text: b.Eval(t, browsertest.TerminalText)})
	}
	snap("poster")
	b.Screenshot(t, art, "long-poster.png")

	// Play a moment, then pause with the space bar.
	b.Do(t, "play", chromedp.Click(chromedp.ID("play")))
	if _, err := chromedp.Run(b.Ctx(), chromedp.Poll[bool](`window.jumpcastPlayer.getCurrentTime() > 0.5`, chromedp.WithPollingTimeout(15*time.Second))); err != nil {
		got := b.Eval(t, `window.jumpcastPlayer.state() + " at " + window.jumpcastPlayer.getCurrentTime()`)
		t.Fatalf("playback did not advance: %v; it is %s; %s", err, got, b.ProblemsSoFar())
	}
	b.Do(t, "pause with space", chromedp.KeyEvent(" "))
	waitState(t, b, "paused", -1)
	snap("played, then paused")

	// Seek by the bar: a click at 30% of its width.
	x, y, w := barGeometry(t, b)
	b.Do(t, "click the bar", chromedp.MouseClickXY(x+0.3*w, y))
	dur := evalFloat(t, b, `window.jumpcastPlayer.getDuration()`)
	waitState(t, b, "paused", 0.3*dur)
	snap("bar at 30%")
	// Hovering the bar previews the screen there.
	b.Do(t, "hover the bar", chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, x+0.8*w, y))
	if _, err := chromedp.Run(b.Ctx(), chromedp.Poll[bool](`!document.getElementById("preview").hidden && (document.querySelector("#preview-term .xterm-rows") || {textContent: ""}).textContent.includes("block")`,
		chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		t.Errorf("no preview of the screen under the pointer: %v", err)
	}
	b.Screenshot(t, art, "long-preview.png")

	// Seek by the keyboard: 7 (70%), ← (5 s back), → (5 s on).
	b.Do(t, "leave the bar", chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, 5, 5))
	b.Do(t, "press 7", chromedp.KeyEvent("7"))
	waitState(t, b, "paused", 0.7*dur)
	snap("key 7")
	b.Do(t, "press ←", chromedp.KeyEvent(kb.ArrowLeft))
	waitState(t, b, "paused", math.Max(0, 0.7*dur-5))
	snap("key ←")
	b.Do(t, "press →", chromedp.KeyEvent(kb.ArrowRight))
	waitState(t, b, "paused", math.Min(dur, 0.7*dur))
	snap("key →")
	b.Screenshot(t, art, "long-seeked.png")

	// An "On screen" search hit opens the player on the screen as it was
	// when the line was printed: the line at the bottom, even though the
	// same burst of output scrolled it away at once.
	b.Load(t, "search the screens", chromedp.Navigate("http://"+e.srv.WebAddr+"/?screen=block-13+line+0004000"))
	b.Load(t, "open the hit", chromedp.Click(chromedp.CSS(".screen-match a")))
	waitState(t, b, "paused", -1)
	snap("search hit")
	hit := &shots[len(shots)-1]
	hit.cut = int(evalFloat(t, b, `Number(document.getElementById("player").dataset.cut || 0)`))
	if lines := strings.Split(strings.TrimRight(hit.text, "\n"), "\n"); !strings.HasPrefix(lines[len(lines)-1], "block-13 line 0004000:") {
		t.Errorf("the search hit's screen does not end with the line:\n%s", hit.text)
	}
	if held := evalFloat(t, b, `window.jumpcastPlayer.chunksHeld()`); held > 4 {
		t.Errorf("the page holds %v chunks, want at most 4", held)
	}
	b.CheckClean(t, "long recording")

	refs := referenceScreens(t, e.castPath(rec), shots)
	for i, s := range shots {
		if s.text != refs[i] {
			t.Errorf("%s (t=%.6f): the page shows\n%s\n--- replaying the recording gives\n%s", s.what, s.t, s.text, refs[i])
		}
	}
}

func evalFloat(t *testing.T, b *browsertest.Browser, js string) float64 {
	t.Helper()
	v, err := chromedp.Run(b.Ctx(), chromedp.Evaluate[float64](js))
	if err != nil {
		t.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}

// waitState waits for the player's state and, when at >= 0, for its time
// to be within a second of at.
func waitState(t *testing.T, b *browsertest.Browser, state string, at float64) {
	t.Helper()
	js := fmt.Sprintf(`!!window.jumpcastPlayer && !!window.jumpcastPlayer.state && window.jumpcastPlayer.state() === %q && (%v < 0 || Math.abs(window.jumpcastPlayer.getCurrentTime() - %v) < 1)`, state, at, at)
	if _, err := chromedp.Run(b.Ctx(), chromedp.Poll[bool](js, chromedp.WithPollingTimeout(15*time.Second))); err != nil {
		got := b.Eval(t, `window.jumpcastPlayer && window.jumpcastPlayer.state ? window.jumpcastPlayer.state() + " at " + window.jumpcastPlayer.getCurrentTime() : "not loaded"`)
		t.Fatalf("player never %s at %v: %v; it is %s; %s", state, at, err, got, b.ProblemsSoFar())
	}
}

// barGeometry is the seek bar's left edge, vertical middle and width in
// page pixels.
func barGeometry(t *testing.T, b *browsertest.Browser) (x, y, w float64) {
	t.Helper()
	v, err := chromedp.Run(b.Ctx(), chromedp.Evaluate[[]float64](`(function () { var r = document.getElementById("bar").getBoundingClientRect(); return [r.left, r.top + r.height / 2, r.width]; })()`))
	if err != nil || len(v) != 3 {
		t.Fatalf("seek bar geometry: %v %v", v, err)
	}
	return v[0], v[1], v[2]
}

// referenceScreens replays rec's events from the start through a
// terminal emulator (charmbracelet/x/vt), reading the stored file as any
// tool would (plain asciicast, or gzip members that zcat joins), and
// returns the screen text at each shot's time in the page's form: a line
// per row, trailing blanks trimmed. A shot with a cut gets only the first
// cut bytes of the last output event at its time, as the player writes it.
func referenceScreens(t *testing.T, path string, shots []screenAt) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	var in io.Reader = f
	if strings.HasSuffix(path, ".gz") {
		if in, err = gzip.NewReader(f); err != nil {
			t.Fatal(err)
		}
	}
	rd, err := asciicast.NewReader(bufio.NewReaderSize(in, 1<<20))
	if err != nil {
		t.Fatal(err)
	}
	var evs []asciicast.Event
	for {
		ev, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, ev)
	}
	hdr := rd.Header()
	order := make([]int, len(shots))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool { return shots[order[a]].t < shots[order[b]].t })
	out := make([]string, len(shots))
	term := vt.NewEmulator(hdr.Width, hdr.Height)
	i := 0
	for _, k := range order {
		s := shots[k]
		upTo := sort.Search(len(evs), func(j int) bool { return evs[j].Time > s.t }) // events <= s.t
		last := -1
		for j := upTo - 1; s.cut > 0 && j >= 0 && evs[j].Time == s.t; j-- {
			if evs[j].Code == asciicast.CodeOutput {
				last = j
				break
			}
		}
		if last >= 0 {
			// A cut: replay a copy of the emulator's way there (shots are
			// few; this one alone starts again from the beginning).
			cut := vt.NewEmulator(hdr.Width, hdr.Height)
			for _, ev := range evs[:last] {
				feed(cut, ev)
			}
			ev := evs[last]
			ev.Data = ev.Data[:min(s.cut, len(ev.Data))]
			feed(cut, ev)
			out[k] = emulatorText(cut)
			continue
		}
		for ; i < upTo; i++ {
			feed(term, evs[i])
		}
		out[k] = emulatorText(term)
	}
	return out
}

// feed writes one event to the emulator as a player does.
func feed(term *vt.Emulator, ev asciicast.Event) {
	switch ev.Code {
	case asciicast.CodeOutput:
		_, _ = term.WriteString(ev.Data)
	case asciicast.CodeResize:
		if w, h, err := asciicast.ParseResize(ev.Data); err == nil {
			term.Resize(w, h)
		}
	}
}

func emulatorText(term *vt.Emulator) string {
	lines := make([]string, term.Height())
	for y := range lines {
		var sb strings.Builder
		for x := 0; x < term.Width(); x++ {
			c := term.CellAt(x, y)
			switch {
			case c == nil || c.Width == 0 && c.Content == "":
			case c.Content == "":
				sb.WriteByte(' ')
			default:
				sb.WriteString(c.Content)
			}
		}
		lines[y] = strings.TrimRight(sb.String(), " ")
	}
	return strings.Join(lines, "\n")
}
