package asciicast_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jumpcast/jumpcast/recorder/asciicast"
	"github.com/jumpcast/jumpcast/recorder/asciicast/asciicasttest"
)

// must fails t at once on err.
func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

var update = flag.Bool("update", false, "rewrite the golden .cast files under testdata/")

// step is one call on a Writer in a golden scenario.
type step struct {
	at     time.Duration
	out    string // Output
	in     string // Input
	resize [2]int
	marker string
}

type goldenCase struct {
	name      string
	header    asciicast.Header
	summarize bool
	steps     []step
	exit      asciicast.Exit
	wantOut   string // decoded "o" data
	wantCat   string // text asciinema cat must print
}

var goldenCases = []goldenCase{
	{
		name: "shell",
		header: asciicast.Header{Width: 120, Height: 40, Timestamp: 1795000000, Title: "root@db1 — alice",
			Env: map[string]string{"TERM": "xterm-256color", "SHELL": "/bin/bash"},
			Jumpcast: &asciicast.HeaderMeta{SessionID: "20261124T093012.345678Z-3f9a1c2b", User: "alice",
				RemoteUser: "root", Target: "db1", TargetAddr: "10.0.0.5:22", ClientAddr: "192.0.2.7:50123", Kind: "shell"}},
		steps: []step{
			{at: 0, out: "root@db1:~# "},
			{at: 1500 * time.Millisecond, in: "l"},
			{at: 1600 * time.Millisecond, in: "s\r"},
			{at: 1700 * time.Millisecond, out: "\x1b[01;34mdir\x1b[0m  caf\xc3"},
			{at: 1700*time.Millisecond + 3*time.Microsecond, out: "\xa9 \xe6\x97"},
			{at: 1800 * time.Millisecond, out: "\xa5\xe6\x9c\xac \xf0"},
			{at: 1900 * time.Millisecond, out: "\x9f"},
			{at: 2 * time.Second, out: "\x98"},
			{at: 2100 * time.Millisecond, out: "\x80 e\xcc\x81 \"quoted\" <&> \\ tab\t\r\n"},
			{at: 3 * time.Second, resize: [2]int{100, 30}},
			{at: 3500 * time.Millisecond, marker: "checkpoint"},
			{at: 4 * time.Second, out: "bad \xff byte\r\n"},
		},
		exit:    asciicast.Exit{Status: 0, HasStatus: true, Reason: "client disconnected"},
		wantOut: "root@db1:~# \x1b[01;34mdir\x1b[0m  café 日本 😀 e\u0301 \"quoted\" <&> \\ tab\t\r\nbad \uFFFD byte\r\n",
		wantCat: "café 日本 😀",
	},
	{
		name:      "exec-binary",
		header:    asciicast.Header{Timestamp: 1795000000, Command: "tar cz /etc", Title: "root@db1 — alice"},
		summarize: true,
		steps: []step{
			{at: 0, out: "tar: Removing leading '/' from member names\n"},
			{at: time.Second, out: "\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03\xec\xbd"},
			{at: 2 * time.Second, out: strings.Repeat("\x00\xff", 1000)},
			{at: 3 * time.Second, out: "done: 日本語\n"},
			{at: 4 * time.Second, out: "\x00\x01\x02"},
		},
		exit:    asciicast.Exit{Status: 2, HasStatus: true},
		wantOut: "tar: Removing leading '/' from member names\ndone: 日本語\n",
		wantCat: "done: 日本語",
	},
	{
		name:   "cut-at-close",
		header: asciicast.Header{Width: 80, Height: 24, Timestamp: 1795000000},
		steps: []step{
			{at: 250 * time.Millisecond, out: "killed mid-character: \xe6\x97"},
		},
		exit:    asciicast.Exit{Signal: "KILL"},
		wantOut: "killed mid-character: \uFFFD\uFFFD",
		wantCat: "killed mid-character:",
	},
}

// writeGolden plays c's steps through a Writer with an injected clock.
func writeGolden(t *testing.T, c goldenCase) []byte {
	t.Helper()
	var buf bytes.Buffer
	clk := &asciicasttest.Clock{}
	w, err := asciicast.NewWriter(&buf, c.header, asciicast.WriterOptions{Clock: clk.Now, SummarizeBinary: c.summarize})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range c.steps {
		clk.Set(s.at)
		switch {
		case s.out != "":
			err = w.Output([]byte(s.out))
		case s.in != "":
			err = w.Input([]byte(s.in))
		case s.resize != [2]int{}:
			err = w.Resize(s.resize[0], s.resize[1])
		case s.marker != "":
			err = w.Marker(s.marker)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	clk.Set(5 * time.Second)
	if err := w.Close(c.exit); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestWriterGolden(t *testing.T) {
	for _, c := range goldenCases {
		t.Run(c.name, func(t *testing.T) {
			got := writeGolden(t, c)
			path := filepath.Join("testdata", "writer_"+c.name+".cast")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("cast differs from %s (run with -update if intended)\ngot:\n%s\nwant:\n%s", path, got, want)
			}
			_, evs := asciicasttest.ReadAll(t, bytes.NewReader(got))
			if out := asciicasttest.Joined(evs, asciicast.CodeOutput); out != c.wantOut {
				t.Errorf("decoded output\n got %q\nwant %q", out, c.wantOut)
			}
			if last := evs[len(evs)-1]; last.Code != asciicast.CodeExit || last.Data != asciicast.ExitData(c.exit) {
				t.Errorf("last event %+v, want x %q", last, asciicast.ExitData(c.exit))
			}
			if cat := asciicasttest.AsciinemaCat(t, path); !strings.Contains(cat, c.wantCat) {
				t.Errorf("asciinema cat printed %q, want it to contain %q", cat, c.wantCat)
			}
		})
	}
}

func TestWriterGoldenDetails(t *testing.T) {
	got := string(writeGolden(t, goldenCases[0]))
	for _, want := range []string{
		`[1.700003,"o","é "]`,     // é completed across reads: the lead byte was carried
		`[3.000000,"r","100x30"]`, // every window change
		`[1.500000,"i","l"]`,      // input recorded when asked
		`"m","[session ended: client disconnected]"]`,
		`[5.000000,"x","0"]`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("cast lacks %s:\n%s", want, got)
		}
	}
	bin := string(writeGolden(t, goldenCases[1]))
	for _, want := range []string{`"m","[binary output: 2012 bytes]"]`, `"m","[binary output: 3 bytes]"]`} {
		if !strings.Contains(bin, want) {
			t.Errorf("binary cast lacks %s:\n%s", want, bin)
		}
	}
}

func TestWriterDefaultsAndErrors(t *testing.T) {
	var buf bytes.Buffer
	w, err := asciicast.NewWriter(&buf, asciicast.Header{}, asciicast.WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(asciicast.Exit{}); err != nil {
		t.Fatal(err)
	}
	if err := w.Output([]byte("late")); err != asciicast.ErrClosed {
		t.Errorf("Output after Close = %v, want ErrClosed", err)
	}
	if err := w.Close(asciicast.Exit{}); err != asciicast.ErrClosed {
		t.Errorf("second Close = %v, want ErrClosed", err)
	}
	h, evs := asciicasttest.ReadAll(t, &buf)
	if h.Version != 2 || h.Width != 80 || h.Height != 24 {
		t.Errorf("header %+v, want v2 80x24", h)
	}
	if len(evs) != 1 || evs[0].Code != asciicast.CodeExit || evs[0].Data != "" {
		t.Errorf("events %+v, want one x with unknown status", evs)
	}
}

// failAfter fails every write after n bytes.
type failAfter struct{ n int }

func (f *failAfter) Write(p []byte) (int, error) {
	if len(p) > f.n {
		n := f.n
		f.n = 0
		return n, os.ErrDeadlineExceeded
	}
	f.n -= len(p)
	return len(p), nil
}

func TestWriterStickyError(t *testing.T) {
	w, err := asciicast.NewWriter(&failAfter{n: 200}, asciicast.Header{}, asciicast.WriterOptions{FlushInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte("x"), asciicast.FlushSize)
	if err := w.Output(big); err == nil {
		t.Fatal("Output over a failing writer: no error")
	}
	if err := w.Resize(10, 10); err == nil {
		t.Error("Resize after a write error: no error")
	}
	if err := w.Close(asciicast.Exit{}); err == nil {
		t.Error("Close after a write error: no error")
	}
}

func TestWriterFlushesWithinInterval(t *testing.T) {
	var mu sync.Mutex
	var buf bytes.Buffer
	w, err := asciicast.NewWriter(writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return buf.Write(p)
	}), asciicast.Header{}, asciicast.WriterOptions{FlushInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = w.Close(asciicast.Exit{}) }()
	if err := w.Output([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		ok := strings.Contains(buf.String(), `"hello"`)
		mu.Unlock()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("buffered event not flushed by the timer")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func TestWriterConcurrent(t *testing.T) {
	var buf bytes.Buffer
	w, err := asciicast.NewWriter(&buf, asciicast.Header{}, asciicast.WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 3 {
		wg.Go(func() {
			for i := range 200 {
				switch g {
				case 0:
					_ = w.Output([]byte("日本"))
				case 1:
					_ = w.Input([]byte("é"))
				default:
					_ = w.Resize(80+i%5, 24)
				}
			}
		})
	}
	wg.Wait()
	if err := w.Close(asciicast.Exit{HasStatus: true}); err != nil {
		t.Fatal(err)
	}
	_, evs := asciicasttest.ReadAll(t, &buf)
	if got := asciicasttest.Joined(evs, asciicast.CodeOutput); got != strings.Repeat("日本", 200) {
		t.Errorf("output mangled under concurrency: %d bytes", len(got))
	}
	if got := asciicasttest.Joined(evs, asciicast.CodeInput); got != strings.Repeat("é", 200) {
		t.Errorf("input mangled under concurrency")
	}
}

// TestWriterGivesBackBurstBuffers: after a burst of output, the timed
// flush of a quiet stream leaves the Writer holding small buffers only.
func TestWriterGivesBackBurstBuffers(t *testing.T) {
	var buf bytes.Buffer
	w, err := asciicast.NewWriter(&buf, asciicast.Header{}, asciicast.WriterOptions{FlushInterval: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Repeat("日本語 ", 5000) + strings.Repeat("x", 30000)
	must(t, w.Output([]byte(text[:40001]))) // ends inside a character
	must(t, w.Output([]byte(text[40001:]))) // the carry joins it in scratch
	deadline := time.Now().Add(5 * time.Second)
	for {
		bufCap, scratchCap, pending := w.Held()
		if !pending && bufCap <= asciicast.IdleBufMax && scratchCap <= asciicast.IdleBufMax {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the flush: buffer capacity %d, scratch %d (want <= %d)", bufCap, scratchCap, asciicast.IdleBufMax)
		}
		time.Sleep(5 * time.Millisecond)
	}
	must(t, w.Output([]byte("$ ")))
	must(t, w.Close(asciicast.Exit{HasStatus: true}))
	_, evs := asciicasttest.ReadAll(t, &buf)
	if got := asciicasttest.Joined(evs, asciicast.CodeOutput); got != text+"$ " {
		t.Errorf("recorded %d bytes, want %d", len(got), len(text)+2)
	}
}
