package castfile

import (
	"strings"

	"github.com/jumpcast/jumpcast/recorder/asciicast"
)

// Busiest returns the chunk with the most output, the first of equals:
// where a recording is most active, the moment its poster and its preview
// in the list show. -1 when no chunk has output.
func (r *Reader) Busiest() int {
	best, out := -1, int64(0)
	for i := range r.chunks {
		if n := r.chunks[i].OutBytes; n > out {
			best, out = i, n
		}
	}
	return best
}

// ScreenAfter returns the screen as chunk i's last event left it, at
// Chunk.End: the next chunk's keyframe when there is one (made on demand,
// like any, and approximate as Keyframe says), else chunk i's keyframe
// and its events replayed. The caller closes the Screen.
func (r *Reader) ScreenAfter(i int) (*Screen, error) {
	if i < 0 || i >= len(r.chunks) {
		return nil, errNoChunk(i, len(r.chunks))
	}
	last := i == len(r.chunks)-1
	k := i + 1
	if last {
		k = i
	}
	kf, err := r.Keyframe(k)
	if err != nil {
		return nil, err
	}
	scr := NewScreen(kf.Cols, kf.Rows)
	_, _ = scr.WriteString(kf.Paint)
	if last {
		err = r.Events(i, func(ev asciicast.Event) error { apply(scr, ev, nil); return nil })
		if err != nil {
			_ = scr.Close()
			return nil, err
		}
	}
	return scr, nil
}

// Text returns the screen shown as text, one string per row, without
// colours or attributes and without the blanks at each row's end.
func (s *Screen) Text() []string {
	cols, rows := s.Size()
	out := make([]string, rows)
	var b strings.Builder
	for y := range rows {
		b.Reset()
		for x := 0; x < cols; x++ {
			c := s.Cell(x, y)
			if c == nil {
				break
			}
			if c.Width == 0 && c.Content == "" {
				continue // the second half of a wide character
			}
			b.WriteString(content(c))
		}
		out[y] = strings.TrimRight(b.String(), " ")
	}
	return out
}
