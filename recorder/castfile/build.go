package castfile

import (
	"bufio"
	"errors"
	"fmt"
	"io"

	"github.com/jumpcast/jumpcast/recorder/asciicast"
)

// builder cuts a recording's events into chunks and computes the keyframe
// of each chunk's start by feeding the events to a Screen — or, with a nil
// Screen, only counts them and tracks the size, leaving the keyframes to
// be made on demand (Reader.Keyframe). The caller closes scr.
type builder struct {
	scr        *Screen
	cols, rows int // the size, tracked without a Screen
	chunks     []chunk
	open       bool  // the last chunk is still taking events
	bytes      int64 // event line bytes of the open chunk
}

func newBuilder(scr *Screen) *builder { return &builder{scr: scr} }

// newLazyBuilder returns a builder without emulation for a recording that
// starts at cols×rows.
func newLazyBuilder(cols, rows int) *builder { return &builder{cols: cols, rows: rows} }

// begin opens a chunk whose bytes start at off and whose first event
// happens at at: its keyframe is the screen now.
func (b *builder) begin(off int64, at float64) {
	if b.scr == nil {
		b.chunks = append(b.chunks, chunk{Chunk: Chunk{Start: at, End: at}, off: off,
			kf: Keyframe{At: at, Cols: b.cols, Rows: b.rows}, lazy: true})
	} else {
		cols, rows := b.scr.Size()
		b.chunks = append(b.chunks, chunk{Chunk: Chunk{Start: at, End: at}, off: off,
			kf: Keyframe{At: at, Cols: cols, Rows: rows, Paint: b.scr.Paint()}})
	}
	b.open, b.bytes = true, 0
}

// full reports whether the open chunk should close before an event at at
// (used where the builder chooses the cuts: raw files).
func (b *builder) full(at float64) bool {
	c := &b.chunks[len(b.chunks)-1]
	return c.Events > 0 && (at-c.Start >= ChunkSpan || b.bytes >= ChunkBytes)
}

// event adds ev, read from a line of n bytes, to the open chunk.
func (b *builder) event(ev asciicast.Event, n int) {
	c := &b.chunks[len(b.chunks)-1]
	if c.Events == 0 {
		c.Start = ev.Time
	}
	c.Events++
	c.End = ev.Time
	b.bytes += int64(n)
	if b.scr == nil && ev.Code == asciicast.CodeResize {
		if w, h, err := asciicast.ParseResize(ev.Data); err == nil {
			b.cols, b.rows = w, h
		}
	}
	apply(b.scr, ev, c)
}

// apply feeds ev to scr (nil: none); c, if not nil, counts its output and
// markers.
func apply(scr *Screen, ev asciicast.Event, c *chunk) {
	switch ev.Code {
	case asciicast.CodeOutput:
		if scr != nil {
			_, _ = scr.WriteString(ev.Data)
		}
		if c != nil {
			c.OutBytes += int64(len(ev.Data))
		}
	case asciicast.CodeResize:
		if w, h, err := asciicast.ParseResize(ev.Data); err == nil && scr != nil {
			scr.Resize(w, h)
		}
		if c != nil {
			c.resize = ev.Data
		}
	case asciicast.CodeMarker:
		if c != nil {
			c.markers = append(c.markers, Marker{At: ev.Time, Label: ev.Data})
		}
	}
}

// end closes the open chunk at byte end.
func (b *builder) end(end int64) {
	if b.open {
		c := &b.chunks[len(b.chunks)-1]
		c.n = end - c.off
		b.open = false
	}
}

// lineReader reads whole lines and knows the offset of each.
type lineReader struct {
	br  *bufio.Reader
	off int64 // offset of the next line
	cut int   // bytes of a last line without its newline, once next has said io.EOF
}

func newLineReader(r io.Reader, off int64) *lineReader {
	return &lineReader{br: bufio.NewReaderSize(r, 64<<10), off: off}
}

// next returns the next whole line (with its newline) and its offset. A
// last line without a newline — cut by a crash, or still being written —
// is not returned: next reports io.EOF. A gzip member cut short
// (io.ErrUnexpectedEOF) also ends the lines with io.EOF.
func (l *lineReader) next() (line []byte, at int64, err error) {
	line, err = l.br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		long := append([]byte(nil), line...)
		var rest []byte
		rest, err = l.br.ReadBytes('\n')
		line = append(long, rest...)
	}
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			l.cut = len(line)
			return nil, l.off, io.EOF
		}
		return nil, l.off, err
	}
	at = l.off
	l.off += int64(len(line))
	return line, at, nil
}

// decode reads one event line. Blank lines are (Event{}, false).
func decode(line []byte) (asciicast.Event, bool, error) {
	var ev asciicast.Event
	if len(line) <= 1 {
		return ev, false, nil
	}
	if err := ev.UnmarshalJSON(line[:len(line)-1]); err != nil {
		return ev, false, fmt.Errorf("asciicast event: %w", err)
	}
	return ev, true, nil
}

// eachEvent calls fn for every event of the whole lines r yields, with
// its line's length.
func eachEvent(r io.Reader, fn func(ev asciicast.Event, n int) error) error {
	return newLineReader(r, 0).events(func(ev asciicast.Event, _ int64, n int) error { return fn(ev, n) })
}

// events calls fn for every event of the remaining whole lines, with its
// line's offset and length, and stops at fn's first error.
func (l *lineReader) events(fn func(ev asciicast.Event, at int64, n int) error) error {
	for {
		line, at, err := l.next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		ev, ok, err := decode(line)
		if err != nil {
			return err
		}
		if ok {
			if err := fn(ev, at, len(line)); err != nil {
				return err
			}
		}
	}
}

// copyLines copies the whole lines of r to w and returns how many bytes.
func copyLines(w io.Writer, r io.Reader) (int64, error) {
	lr := newLineReader(r, 0)
	for {
		line, _, err := lr.next()
		if errors.Is(err, io.EOF) {
			return lr.off, nil
		}
		if err != nil {
			return lr.off, err
		}
		if _, err := w.Write(line); err != nil {
			return lr.off, err
		}
	}
}
