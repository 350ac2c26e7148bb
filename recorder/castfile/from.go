package castfile

import (
	"bufio"
	"encoding/json"
	"io"
	"sort"

	"github.com/jumpcast/jumpcast/recorder/asciicast"
)

// clearScreen readies a terminal that is not freshly reset for a
// keyframe's Paint: default pen, no scroll region or origin mode, the
// main screen, cleared, cursor home.
const clearScreen = "\x1b[0m\x1b[r\x1b[?6l\x1b[?1049l\x1b[H\x1b[2J"

// ChunkAt returns the chunk whose keyframe is the nearest at or before t
// seconds (0 when t is before the first event).
func (r *Reader) ChunkAt(t float64) int {
	i := sort.Search(len(r.chunks), func(i int) bool { return r.chunks[i].Start > t })
	return max(i-1, 0)
}

// WriteCastFrom writes the recording from t seconds on as a plain
// asciicast v2 stream that starts at once: the header (with the size of
// the screen at t), an event at 0 that paints the keyframe before t,
// the events between the keyframe and t at 0, then the rest with their
// times shifted by t. A player shows the screen at t immediately.
func (r *Reader) WriteCastFrom(w io.Writer, t float64) error {
	i := r.ChunkAt(t)
	if len(r.chunks) == 0 {
		return r.WriteCast(w)
	}
	kf, err := r.Keyframe(i)
	if err != nil {
		return err
	}
	h := r.hdr
	h.Width, h.Height, h.Duration = kf.Cols, kf.Rows, 0
	bw := bufio.NewWriterSize(w, 64<<10)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(h); err != nil {
		return err
	}
	if err := enc.Encode(asciicast.Event{Code: asciicast.CodeOutput, Data: clearScreen + kf.Paint}); err != nil {
		return err
	}
	for ; i < len(r.chunks); i++ {
		err := r.Events(i, func(ev asciicast.Event) error {
			ev.Time = max(ev.Time-t, 0)
			return enc.Encode(ev)
		})
		if err != nil {
			return err
		}
	}
	return bw.Flush()
}
