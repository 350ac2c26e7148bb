package castfile

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jumpcast/jumpcast/recorder/asciicast"
	"github.com/jumpcast/jumpcast/recorder/asciicast/asciicasttest"
)

// dirOpener opens files under a test folder.
type dirOpener string

func (d dirOpener) Open(rel string) (File, error) { return os.Open(filepath.Join(string(d), rel)) }

// splitSeqs: cut snippets anywhere, as reads split them.
var splitSeqs = false

// snippets are pieces of what full-screen programs and shells write.
var snippets = []string{
	"$ ls -l\r\ntotal 12\r\n-rw-r--r-- 1 root root 42 Dec  4 file.txt\r\n",
	"\x1b[1;32muser@host\x1b[0m:\x1b[1;34m~\x1b[0m$ ",
	"\x1b[?1049h\x1b[22;0;0t\x1b[1;24r\x1b[?12h\x1b[?12l\x1b[27m\x1b[23m\x1b[29m\x1b[m\x1b[H\x1b[2J\x1b[?25l",
	"\x1b[?1049l\x1b[23;0;0t\r\x1b[?1l\x1b>",
	"\x1b[?1h\x1b=\x1b[?2004h",
	"\x1b[H\x1b[7m top - 12:00:01 up 1 day \x1b[27m\x1b[K\r\n\x1b[1mTasks:\x1b[m 100 total\x1b[K",
	"日本語のテキスト、漢字と🙂絵文字\r\n",
	"\x1b[3;20r\x1b[20;1H\r\nscrolled line\x1b[r",
	"\x1b[5;10H\x1b[44m  blue  \x1b[0m\x1b[1K",
	"\x1b[?25h\x1b[?7l" + strings.Repeat("x", 100) + "\x1b[?7h",
	"long line without newline " + strings.Repeat("ab", 70),
	"\x1b[2J\x1b[H~\r\n~\r\n~\r\n\x1b[24;1H\"file\" 3L, 20B",
	"\x1b[c\x1b[6n\x1b[5n",
	"\x1b[s\x1b[10;10Hsaved\x1b[u",
	"\x1b[38;2;200;100;50mtrue colour\x1b[0m\x1b[4:3mcurly\x1b[0m\r\n",
	"\x1b[3L\x1b[2M\x1b[4@\x1b[3P\x1b[2X",
	"\x1b[?6h\x1b[5;15r\x1b[1;1Horigin\x1b[?6l\x1b[r",
}

// event is one event of a generated recording.
type genEvent struct {
	at   time.Duration
	code string
	data string
	w, h int
}

// generate makes a recording's events: snippets, resizes, markers, and
// pauses long enough to close chunks by time; big bursts close them by
// size.
func generate(rng *rand.Rand, n int) []genEvent {
	var evs []genEvent
	var at time.Duration
	for range n {
		switch r := rng.IntN(100); {
		case r < 3:
			at += time.Duration(rng.IntN(15)) * time.Second
		case r < 6:
			evs = append(evs, genEvent{at: at, code: "r", w: 20 + rng.IntN(100), h: 5 + rng.IntN(40)})
		case r < 8:
			evs = append(evs, genEvent{at: at, code: "m", data: fmt.Sprintf("marker %d", len(evs))})
		case r < 10:
			// a burst: many lines at once
			var b strings.Builder
			for i := range 2000 + rng.IntN(3000) {
				fmt.Fprintf(&b, "%d log line with some text %x\r\n", i, rng.Uint64())
			}
			evs = append(evs, genEvent{at: at, code: "o", data: b.String()})
		default:
			s := snippets[rng.IntN(len(snippets))]
			if cut := rng.IntN(len(s) + 1); splitSeqs && rng.IntN(4) == 0 {
				s = s[:cut] // a sequence split across two reads
			}
			evs = append(evs, genEvent{at: at, code: "o", data: s})
		}
		at += time.Duration(rng.IntN(300)) * time.Millisecond
	}
	return evs
}

// record writes evs as a raw cast and in the compressed format under dir,
// flushing after each event, and returns the paths. close=false leaves
// the compressed Writer open (an active recording); its Close is
// returned.
func record(t *testing.T, dir, name string, evs []genEvent, closeIt bool) (raw, gz string, closeFn func()) {
	t.Helper()
	raw, gz = name+".cast", name+".cast.gz"
	rf, err := os.Create(filepath.Join(dir, raw))
	if err != nil {
		t.Fatal(err)
	}
	zf, err := os.Create(filepath.Join(dir, gz))
	if err != nil {
		t.Fatal(err)
	}
	xf, err := os.Create(filepath.Join(dir, IndexPath(gz)))
	if err != nil {
		t.Fatal(err)
	}
	h := asciicast.Header{Width: 80, Height: 24}
	cw := NewWriter(zf, xf, h)
	var now time.Duration
	w, err := asciicast.NewWriter(io.MultiWriter(rf, cw), h, asciicast.WriterOptions{Clock: func() time.Duration { return now }})
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range evs {
		now = ev.at
		switch ev.code {
		case "o":
			err = w.Output([]byte(ev.data))
		case "r":
			err = w.Resize(ev.w, ev.h)
		case "m":
			err = w.Marker(ev.data)
		}
		if err == nil {
			err = w.Snapshot(func(int64) {}) // a flush, as the flush timer makes
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	closeFn = func() {
		if err := cw.Close(); err != nil {
			t.Error(err)
		}
		for _, f := range []*os.File{rf, zf, xf} {
			_ = f.Close()
		}
	}
	if closeIt {
		if err := w.Close(asciicast.Exit{Status: 0}); err != nil {
			t.Fatal(err)
		}
		closeFn()
		closeFn = func() {}
	}
	return raw, gz, closeFn
}

// checkSeek is the property: for every chunk, and at a random event in
// it, the screen rebuilt from the chunk's keyframe plus the events since
// equals the screen of a replay from the start.
func checkSeek(t *testing.T, r *Reader, rng *rand.Rand) {
	t.Helper()
	x := r.Index()
	ref := NewScreen(x.Header.Width, x.Header.Height)
	defer func() { _ = ref.Close() }()
	for i := range x.Chunks {
		kf, err := r.Keyframe(i)
		if err != nil {
			t.Fatal(err)
		}
		seek := NewScreen(kf.Cols, kf.Rows)
		_, _ = seek.WriteString(kf.Paint)
		if d := diffScreens(ref, seek); d != "" {
			t.Fatalf("chunk %d at %.3fs: keyframe differs from replay: %s", i, kf.At, d)
		}
		stop := rng.IntN(x.Chunks[i].Events + 1)
		n := 0
		err = r.Events(i, func(ev asciicast.Event) error {
			apply(ref, ev, nil)
			if n < stop {
				apply(seek, ev, nil)
			}
			n++
			if n == stop {
				if d := diffScreens(ref, seek); d != "" {
					return fmt.Errorf("chunk %d, %d events in (%.3fs): %s", i, n, ev.Time, d)
				}
			}
			return nil
		})
		_ = seek.Close()
		if err != nil {
			t.Fatal(err)
		}
		if n != x.Chunks[i].Events {
			t.Fatalf("chunk %d: %d events read, index says %d", i, n, x.Chunks[i].Events)
		}
	}
}

func readAll(t *testing.T, r *Reader) []asciicast.Event {
	t.Helper()
	var out []asciicast.Event
	for i := range r.Index().Chunks {
		if err := r.Events(i, func(ev asciicast.Event) error { out = append(out, ev); return nil }); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// archive writes the closed recording rel of dir in the archived format
// (Archive), its index with every keyframe when keyframes is set (the
// background indexer's, WriteIndex, first), and returns its path.
func archive(t *testing.T, dir, rel string, keyframes bool) string {
	t.Helper()
	if keyframes {
		data, err := os.Open(filepath.Join(dir, rel))
		if err != nil {
			t.Fatal(err)
		}
		var idx bytes.Buffer
		err = WriteIndex(&idx, data)
		_ = data.Close()
		if err == nil {
			err = os.WriteFile(filepath.Join(dir, IndexPath(rel)), idx.Bytes(), 0o600)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	r, err := Open(dirOpener(dir), rel)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = r.Close() }()
	zst := strings.TrimSuffix(rel, ".gz") + ".zst"
	var data, idx bytes.Buffer
	size, err := Archive(&data, &idx, r)
	if err != nil {
		t.Fatal(err)
	}
	if size != int64(data.Len()) {
		t.Fatalf("Archive says %d bytes, wrote %d", size, data.Len())
	}
	for name, b := range map[string][]byte{zst: data.Bytes(), IndexPath(zst): idx.Bytes()} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if p, err := parseIndex(bytes.NewReader(idx.Bytes())); err != nil || p.closed != size {
		t.Fatalf("the archived index: %v, closed at %d of %d", err, p.closed, size)
	}
	return zst
}

func TestBothFormatsSeekAndExport(t *testing.T) {
	dir := t.TempDir()
	seeds := uint64(6)
	if testing.Short() { // make test-race: the same checks, fewer recordings
		seeds = 2
	}
	for seed := range seeds {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 16))
			raw, gz, _ := record(t, dir, fmt.Sprint("rec", seed), generate(rng, 400), true)
			want, err := os.ReadFile(filepath.Join(dir, raw))
			if err != nil {
				t.Fatal(err)
			}
			zst := archive(t, dir, gz, seed%2 == 0)
			var events [][]asciicast.Event
			for _, rel := range []string{raw, gz, zst} {
				r, err := Open(dirOpener(dir), rel)
				if err != nil {
					t.Fatal(err)
				}
				var out bytes.Buffer
				if err := r.WriteCast(&out); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(out.Bytes(), want) {
					t.Errorf("%s: WriteCast gives %d bytes, not the %d of the plain cast", rel, out.Len(), len(want))
				}
				x := r.Index()
				if len(x.Chunks) < 2 {
					t.Errorf("%s: %d chunks", rel, len(x.Chunks))
				}
				checkSeek(t, r, rng)
				events = append(events, readAll(t, r))
				_ = r.Close()
				p, err := OpenPlain(dirOpener(dir), rel)
				if err != nil {
					t.Fatal(err)
				}
				plain, err := io.ReadAll(p)
				_ = p.Close()
				if err != nil || !bytes.Equal(plain, want) {
					t.Errorf("%s: OpenPlain gives %d bytes (%v), not the %d of the plain cast", rel, len(plain), err, len(want))
				}
			}
			for i := 1; i < len(events); i++ {
				if fmt.Sprint(events[0]) != fmt.Sprint(events[i]) {
					t.Errorf("the formats give different events (%d, %d)", len(events[0]), len(events[i]))
				}
			}
			if st, err := os.Stat(filepath.Join(dir, zst)); err != nil || st.Size() >= int64(len(want)) {
				t.Errorf("the archived file is not smaller than the plain cast (%d bytes): %v", len(want), err)
			}
			if out := asciicasttest.ReadFile(t, filepath.Join(dir, zst)); !bytes.Equal(out, want) { // Debian's zstdcat
				t.Errorf("zstdcat %s: %d bytes, want the plain cast's %d", zst, len(out), len(want))
			}
			if zcat, err := exec.LookPath("zcat"); err == nil {
				out, err := exec.Command(zcat, filepath.Join(dir, gz)).Output()
				if err != nil || !bytes.Equal(out, want) {
					t.Errorf("zcat %s: %v, %d bytes, want the plain cast's %d", gz, err, len(out), len(want))
				}
			}
		})
	}
}

func TestActiveAndCutRecordings(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(7, 7))
	evs := generate(rng, 300)
	raw, gz, closeFn := record(t, dir, "active", evs, false)
	defer closeFn()
	want, err := os.ReadFile(filepath.Join(dir, raw))
	if err != nil {
		t.Fatal(err)
	}
	r, err := Open(dirOpener(dir), gz)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := r.WriteCast(&out); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), want) {
		t.Errorf("active recording reads %d bytes, want all %d flushed", out.Len(), len(want))
	}
	checkSeek(t, r, rng)
	_ = r.Close()

	// A crash cuts the data file anywhere: it reads to a line it held.
	data, err := os.ReadFile(filepath.Join(dir, gz))
	if err != nil {
		t.Fatal(err)
	}
	cuts := []int{len(data) - 1, len(data) - 7, len(data) * 2 / 3, len(data) / 3}
	if testing.Short() { // make test-race: one cut in a member's trailer, one mid-file
		cuts = []int{len(data) - 7, len(data) / 3}
	}
	for _, cut := range cuts {
		name := fmt.Sprintf("cut%d.cast.gz", cut)
		if err := os.WriteFile(filepath.Join(dir, name), data[:cut], 0o600); err != nil {
			t.Fatal(err)
		}
		r, err := Open(dirOpener(dir), name) // no index: rebuilt from the data
		if err != nil {
			t.Fatalf("cut at %d: %v", cut, err)
		}
		out.Reset()
		if err := r.WriteCast(&out); err != nil {
			t.Fatal(err)
		}
		if out.Len() < 100 || !bytes.HasPrefix(want, out.Bytes()) || out.Bytes()[out.Len()-1] != '\n' {
			t.Errorf("cut at %d: reads %d bytes, not whole lines of the recording", cut, out.Len())
		}
		checkSeek(t, r, rng)
		_ = r.Close()
		checkRepair(t, dir, name, out.Bytes())
	}
}

// checkRepair repairs the cut recording name, whose whole lines are
// want: gzip then reads it without complaint, and Open reads the same
// lines through the rebuilt index.
func checkRepair(t *testing.T, dir, name string, want []byte) {
	t.Helper()
	data, err := os.OpenFile(filepath.Join(dir, name), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := os.Create(filepath.Join(dir, IndexPath(name)))
	if err != nil {
		t.Fatal(err)
	}
	err = Repair(data, idx)
	_, _ = data.Close(), idx.Close()
	if err != nil {
		t.Fatalf("repair %s: %v", name, err)
	}
	if gz, err := exec.LookPath("gzip"); err == nil {
		if out, err := exec.Command(gz, "-t", filepath.Join(dir, name)).CombinedOutput(); err != nil {
			t.Errorf("gzip -t %s after repair: %v %s", name, err, out)
		}
	}
	r, err := Open(dirOpener(dir), name)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = r.Close() }()
	var got bytes.Buffer
	if err := r.WriteCast(&got); err != nil || !bytes.Equal(got.Bytes(), want) {
		t.Errorf("%s after repair: %d bytes (%v), want %d", name, got.Len(), err, len(want))
	}
	idxData, err := os.ReadFile(filepath.Join(dir, IndexPath(name)))
	if err != nil {
		t.Fatal(err)
	}
	p, err := parseIndex(bytes.NewReader(idxData))
	if err != nil || len(p.chunks) != len(r.Index().Chunks) || p.closed == 0 {
		t.Errorf("rebuilt index: %d chunks (%v), closed at %d; reader sees %d", len(p.chunks), err, p.closed, len(r.Index().Chunks))
	}
}
