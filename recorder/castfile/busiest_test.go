package castfile

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jumpcast/jumpcast/recorder/asciicast"
)

// screenAfter is the screen after chunk i's last event, replayed from the
// start.
func screenAfter(t *testing.T, r *Reader, i int) *Screen {
	t.Helper()
	scr := screenAt(t, r, i)
	if err := r.Events(i, func(ev asciicast.Event) error { apply(scr, ev, nil); return nil }); err != nil {
		t.Fatal(err)
	}
	return scr
}

// The busiest chunk is the one with the most output, and ScreenAfter
// shows the screen as its last event left it, in both formats, for a
// chunk in the middle and for the last one.
func TestBusiestAndScreenAfter(t *testing.T) {
	dir := t.TempDir()
	// A burst between two quiet stretches, markers closing the chunks
	// (a chunk closes at a flush 10 s after its start, the raw reader's
	// before an event that late); the burst ends by drawing a screen.
	evs := []genEvent{
		{at: 0, code: "o", data: "$ uptime\r\n 12:00 up 1 day\r\n"},
		{at: 11 * time.Second, code: "m", data: "a"},
		{at: 15 * time.Second, code: "o", data: strings.Repeat("building target 1234\r\n", 400) + "\x1b[2J\x1b[Hbuild ok: 日本 done\r\n"},
		{at: 26 * time.Second, code: "m", data: "b"},
		{at: 30 * time.Second, code: "o", data: "$ exit\r\n"},
	}
	raw, gz, _ := record(t, dir, "busy", evs, true)
	for _, rel := range []string{raw, gz} {
		r, err := Open(dirOpener(dir), rel)
		if err != nil {
			t.Fatal(err)
		}
		if n := len(r.Index().Chunks); n != 3 {
			t.Fatalf("%s: %d chunks", rel, n)
		}
		if got := r.Busiest(); got != 1 {
			t.Errorf("%s: busiest chunk %d, want 1", rel, got)
		}
		for _, i := range []int{1, 2} {
			got, err := r.ScreenAfter(i)
			if err != nil {
				t.Fatal(err)
			}
			want := screenAfter(t, r, i)
			if d := diffScreens(got, want); d != "" {
				t.Errorf("%s: screen after chunk %d: %s", rel, i, d)
			}
			if !slices.Equal(got.Text(), want.Text()) {
				t.Errorf("%s: text after chunk %d: %q, want %q", rel, i, got.Text(), want.Text())
			}
			_, _ = got.Close(), want.Close()
		}
		scr, _ := r.ScreenAfter(1)
		text := scr.Text()
		_ = scr.Close()
		if len(text) != 24 || text[0] != "build ok: 日本 done" || text[1] != "" {
			t.Errorf("%s: text after the burst: %q", rel, text[:3])
		}
		if _, err := r.ScreenAfter(3); err == nil {
			t.Errorf("%s: ScreenAfter past the end gave no error", rel)
		}
		_ = r.Close()
	}

	// No output at all: no busiest chunk.
	_, gz, _ = record(t, dir, "quiet", []genEvent{{at: 0, code: "r", w: 100, h: 30}}, true)
	r, err := Open(dirOpener(dir), gz)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = r.Close() }()
	if got := r.Busiest(); got != -1 {
		t.Errorf("a recording without output: busiest %d", got)
	}
}

// ScreenAfter agrees with a replay from the start for every chunk of
// generated recordings, keyframes made on demand.
func TestScreenAfterGenerated(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(5, 8))
	_, gz, _ := record(t, dir, "gen", generate(rng, 300), true)
	r, err := Open(dirOpener(dir), gz)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = r.Close() }()
	for i := range r.Index().Chunks {
		got, err := r.ScreenAfter(i)
		if err != nil {
			t.Fatal(err)
		}
		want := screenAfter(t, r, i)
		if !slices.Equal(got.Text(), want.Text()) {
			t.Errorf("chunk %d: text %q, want %q", i, got.Text(), want.Text())
		}
		_, _ = got.Close(), want.Close()
	}
}
