package castfile

import (
	"bytes"
	stdgzip "compress/gzip"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/jumpcast/jumpcast/recorder/asciicast"
)

// dirKeeper is a folder of recordings that keeps indexes as recorder.Dir
// does: a new file renamed over the old.
type dirKeeper struct{ dirOpener }

func (d dirKeeper) PutIndex(rel string, write func(io.Writer) error) error {
	path := filepath.Join(string(d.dirOpener), IndexPath(rel))
	f, err := os.CreateTemp(filepath.Dir(path), "idx-*")
	if err != nil {
		return err
	}
	err = errors.Join(write(f), f.Close())
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	return err
}

// screenAt is the screen at the start of chunk i, replayed from the start.
func screenAt(t *testing.T, r *Reader, i int) *Screen {
	t.Helper()
	scr := NewScreen(r.hdr.Width, r.hdr.Height)
	for k := range i {
		if err := r.Events(k, func(ev asciicast.Event) error { apply(scr, ev, nil); return nil }); err != nil {
			t.Fatal(err)
		}
	}
	return scr
}

// The session's writer makes an index without keyframes; a Reader answers
// keyframes in any order, exact from the nearest one within reach, and
// keeps them in the index of a closed recording, where the next Reader
// finds them.
func TestKeyframesOnDemand(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(11, 3))
	_, gz, _ := record(t, dir, "lazy", generate(rng, 600), true)
	p := readIndex(t, dir, gz)
	if p.closed == 0 || len(p.chunks) < 4 {
		t.Fatalf("the writer's index: %d chunks, closed at %d", len(p.chunks), p.closed)
	}
	for i, c := range p.chunks {
		if !c.lazy {
			t.Fatalf("chunk %d: the session's writer emulated a keyframe", i)
		}
	}
	if Indexed(dirOpener(dir), gz) {
		t.Error("Indexed before any keyframe was made")
	}

	r, err := Open(dirKeeper{dirOpener(dir)}, gz)
	if err != nil {
		t.Fatal(err)
	}
	n := len(r.Index().Chunks)
	exact, approx := 0, 0
	for _, i := range rng.Perm(n) {
		kf, err := r.Keyframe(i)
		if err != nil {
			t.Fatal(err)
		}
		ref := screenAt(t, r, i)
		seek := NewScreen(kf.Cols, kf.Rows)
		_, _ = seek.WriteString(kf.Paint)
		d := diffScreens(ref, seek)
		cols, rows := ref.Size()
		_, _ = ref.Close(), seek.Close()
		switch {
		case kf.Approx:
			approx++
			if kf.Cols != cols || kf.Rows != rows { // from the index's resizes
				t.Errorf("chunk %d (approximate): %dx%d, the replay is %dx%d", i, kf.Cols, kf.Rows, cols, rows)
			}
		case d != "":
			t.Errorf("chunk %d (exact): keyframe differs from the replay: %s", i, d)
		default:
			exact++
		}
	}
	_ = r.Close()
	if exact == 0 || approx == 0 {
		t.Errorf("%d exact and %d approximate keyframes made on demand, want both", exact, approx)
	}

	// What the Reader made is in the index now: a new Reader has it.
	p = readIndex(t, dir, gz)
	kept := 0
	for _, c := range p.chunks {
		if !c.lazy {
			kept++
		}
	}
	if kept != exact || p.closed == 0 {
		t.Errorf("kept index: %d keyframes, closed at %d; want the %d exact ones", kept, p.closed, exact)
	}

	// The background indexer's index holds every one, and is left alone.
	data, err := os.Open(filepath.Join(dir, gz))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = data.Close() }()
	if err := (dirKeeper{dirOpener(dir)}).PutIndex(gz, func(w io.Writer) error { return WriteIndex(w, data) }); err != nil {
		t.Fatal(err)
	}
	if !Indexed(dirOpener(dir), gz) {
		t.Error("not Indexed after WriteIndex")
	}
	r, err = Open(dirKeeper{dirOpener(dir)}, gz)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = r.Close() }()
	checkSeek(t, r, rng)
	if !Indexed(dirOpener(dir), gz) {
		t.Error("a Reader replaced a whole index")
	}
}

// An active recording's index is not replaced by its readers: the
// session's writer is still appending to it.
func TestActiveIndexNotKept(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(5, 5))
	_, gz, closeFn := record(t, dir, "active", generate(rng, 300), false)
	before := readIndex(t, dir, gz)
	r, err := Open(dirKeeper{dirOpener(dir)}, gz)
	if err != nil {
		t.Fatal(err)
	}
	for i := range r.Index().Chunks {
		if _, err := r.Keyframe(i); err != nil {
			t.Fatal(err)
		}
	}
	_ = r.Close()
	after := readIndex(t, dir, gz)
	kept := slices.ContainsFunc(after.chunks, func(c chunk) bool { return !c.lazy })
	if kept || after.closed != 0 || len(after.chunks) != len(before.chunks) {
		t.Errorf("the active recording's index changed under its writer")
	}
	closeFn()
	if p := readIndex(t, dir, gz); p.closed == 0 {
		t.Errorf("the closed recording's index has no trailer")
	}
}

// readIndex parses the index beside the compressed recording gz in dir.
func readIndex(t *testing.T, dir, gz string) parsedIndex {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, IndexPath(gz)))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	p, err := parseIndex(f)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Files written before the data was compressed with klauspost/compress
// (by the standard library's gzip, members alike) still read.
func TestReadsStdlibGzipMembers(t *testing.T) {
	dir := t.TempDir()
	var data bytes.Buffer
	for _, member := range []string{
		`{"version":2,"width":80,"height":24}` + "\n",
		`[0.5,"o","first\r\n"]` + "\n" + `[1.0,"m","here"]` + "\n",
		`[12.0,"o","second\r\n"]` + "\n",
	} {
		z, _ := stdgzip.NewWriterLevel(&data, stdgzip.BestSpeed)
		_, _ = z.Write([]byte(member))
		_ = z.Close()
	}
	name := "old.cast.gz"
	if err := os.WriteFile(filepath.Join(dir, name), data.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := Open(dirOpener(dir), name)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = r.Close() }()
	x := r.Index()
	if len(x.Chunks) != 2 || len(x.Markers) != 1 || x.Duration != 12 {
		t.Fatalf("index of an old file: %+v", x)
	}
	var out bytes.Buffer
	if err := r.WriteCast(&out); err != nil || !strings.Contains(out.String(), "second") {
		t.Errorf("WriteCast: %v\n%s", err, out.String())
	}
}
