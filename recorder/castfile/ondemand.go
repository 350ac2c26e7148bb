package castfile

import (
	"bytes"
	"io"

	"github.com/jumpcast/jumpcast/recorder/asciicast"
)

// IndexKeeper is an Opener that can also replace a compressed recording's
// index file. A Reader opened through one keeps there the keyframes it
// made on demand, so that the next Reader (of this process or another)
// finds them. *recorder.Dir satisfies it.
type IndexKeeper interface {
	Opener
	// PutIndex replaces the index of the compressed recording rel with
	// what write writes, atomically (a new file renamed over the old):
	// readers see the old index or the new one, and two writers at once
	// leave one of two valid indexes.
	PutIndex(rel string, write func(io.Writer) error) error
}

// maxReplay bounds the output a Keyframe call emulates to make an exact
// keyframe (the emulator takes 0.3–1.5 MB/s, and a seek should show its
// screen within a few hundred milliseconds): one full chunk.
const maxReplay = ChunkBytes

// approxTail is how much of the last output before a chunk an approximate
// keyframe is drawn from: more than a screenful of text.
const approxTail = 64 << 10

// Keyframe returns the screen at the start of chunk i (chunk 0: the empty
// screen of the header's size).
//
// A keyframe the index does not hold yet (a recording still active, or
// closed but not yet indexed) is made now by replaying the chunks since
// the nearest earlier keyframe, when that is the previous chunk's or at
// most maxReplay bytes of output back; then it and those between are kept in the Reader, and in
// the index file when the Reader was opened through an IndexKeeper and
// the recording is closed. Farther back, the keyframe is approximate
// (Keyframe.Approx): the screen the last approxTail bytes of output before
// the chunk leave on a blank terminal — exact for scrolling text, not for
// a full-screen program's earlier drawing. It is not kept.
func (r *Reader) Keyframe(i int) (Keyframe, error) {
	if i < 0 || i >= len(r.chunks) {
		return Keyframe{}, errNoChunk(i, len(r.chunks))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.chunks[i].lazy {
		return r.keyframe(i)
	}
	j, replay := i, int64(0) // j: the nearest chunk at or before i with a keyframe
	for j > 0 && r.chunks[j].lazy {
		j--
		replay += r.chunks[j].OutBytes
	}
	if r.chunks[j].lazy { // j == 0: the blank screen of the header's size
		scr := NewScreen(r.hdr.Width, r.hdr.Height)
		r.chunks[0].kf, r.chunks[0].lazy = Keyframe{At: r.chunks[0].Start, Cols: r.hdr.Width, Rows: r.hdr.Height, Paint: scr.Paint()}, false
		_ = scr.Close()
	}
	if replay > maxReplay && i-j > 1 {
		return r.approximate(i, j)
	}
	kf, err := r.keyframe(j)
	if err != nil {
		return Keyframe{}, err
	}
	scr := NewScreen(kf.Cols, kf.Rows)
	defer func() { _ = scr.Close() }()
	_, _ = scr.WriteString(kf.Paint)
	for k := j; k < i; k++ {
		if err := r.Events(k, func(ev asciicast.Event) error { apply(scr, ev, nil); return nil }); err != nil {
			return Keyframe{}, err
		}
		cols, rows := scr.Size()
		c := &r.chunks[k+1]
		c.kf, c.lazy = Keyframe{At: c.Start, Cols: cols, Rows: rows, Paint: scr.Paint()}, false
	}
	r.keepIndex()
	return r.chunks[i].kf, nil
}

// approximate makes the approximate keyframe of chunk i, j being the
// nearest earlier chunk with a keyframe (for the size), reading only chunk
// i-1. Called with mu.
func (r *Reader) approximate(i, j int) (Keyframe, error) {
	prev := i - 1 // lazy, as i > j
	kf, err := r.keyframe(j)
	if err != nil {
		return Keyframe{}, err
	}
	// The size at i's start: the last resize the index notes in the
	// chunks from j to i-2 (i-1's own are replayed below), else j's.
	cols, rows := kf.Cols, kf.Rows
	for k := prev - 1; k >= j; k-- {
		if w, h, err := asciicast.ParseResize(r.chunks[k].resize); err == nil {
			cols, rows = w, h
			break
		}
	}
	scr := NewScreen(cols, rows)
	defer func() { _ = scr.Close() }()
	skip := r.chunks[prev].OutBytes - approxTail
	err = r.Events(prev, func(ev asciicast.Event) error {
		if ev.Code == asciicast.CodeOutput && skip > 0 {
			skip -= int64(len(ev.Data))
			if skip >= 0 {
				return nil
			}
			ev.Data = ev.Data[int64(len(ev.Data))+skip:] // its last -skip bytes
		}
		apply(scr, ev, nil)
		return nil
	})
	if err != nil {
		return Keyframe{}, err
	}
	cols, rows = scr.Size()
	return Keyframe{At: r.chunks[i].Start, Cols: cols, Rows: rows, Paint: scr.Paint(), Approx: true}, nil
}

// keyframe returns chunk i's keyframe, known (not lazy): in memory, or
// read from the index file. Called with mu.
func (r *Reader) keyframe(i int) (Keyframe, error) {
	c := &r.chunks[i]
	if c.stored {
		return loadKeyframe(r.idx, c)
	}
	return c.kf, nil
}

// keepIndex writes the Reader's index, with the keyframes made so far, to
// its IndexKeeper, unless the index there already holds them all (the
// background indexer got there first). Called with mu. The index is
// derived data: a failure only means the next Reader makes them again.
func (r *Reader) keepIndex() {
	if r.keep == nil || Indexed(r.keep, r.rel) {
		return
	}
	size := r.end()
	_ = r.keep.PutIndex(r.rel, func(w io.Writer) error { return r.writeIndexTo(w, size) })
}

// Indexed reports whether the compressed recording rel is closed and its
// index holds every keyframe (its last line says so): the background
// indexer has nothing left to do for it. It reads only the index's end.
func Indexed(o Opener, rel string) bool {
	f, err := o.Open(IndexPath(rel))
	if err != nil {
		return false
	}
	defer func() { _ = f.Close() }()
	st, err := f.Stat()
	if err != nil {
		return false
	}
	want := []byte(`"keyframes":true}` + "\n")
	tail := make([]byte, len(want))
	if _, err := f.ReadAt(tail, st.Size()-int64(len(tail))); err != nil {
		return false
	}
	return bytes.Equal(tail, want)
}
