package castfile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"unsafe"

	"github.com/klauspost/compress/flate"

	"github.com/jumpcast/jumpcast/recorder/asciicast"
)

// Level is the deflate level of the data file: the fastest, so that
// compressing costs the recording little (bench/README.md has the
// figures).
const Level = flate.BestSpeed

// Writer writes the compressed format: it takes the asciicast v2 stream
// (an asciicast.Writer's output: the header line first, then whole event
// lines) and writes it to the data file as gzip members — the header
// alone in the first, then one member per chunk — and, beside it, the
// index file: one line per closed chunk with its byte range, times,
// counts and markers, and a last line once the Writer is closed.
//
// Durability: each Write ends with a gzip sync flush, so the data file
// decodes (zcat, or Open) to the end of the last Write even if the
// process dies before the member is closed.
//
// The index a Writer from NewWriter makes has no keyframes: nothing is
// emulated on the recording's path. Readers make keyframes on demand
// (Reader.Keyframe) and the background indexer writes them all once the
// recording is closed (WriteIndex). An output event's bytes in this index
// are counted as encoded (JSON escapes included), close to the decoded
// count a keyframed index holds.
//
// Not safe for concurrent use: asciicast.Writer calls Write under its
// lock, and Close comes after the asciicast.Writer's Close.
type Writer struct {
	dst   io.Writer
	n     int64        // bytes written to dst
	zbuf  bytes.Buffer // z's output since the last flush point
	z     member       // the member being written
	open  bool         // a chunk member is open
	bytes int64        // event line bytes in the open chunk
	hdr   bool         // the header member is written
	err   error        // first write error of the data, sticky

	idx  io.Writer // the index; nil: none
	cur  chunk     // the open chunk, as its index line will say
	ierr error     // first write error of the index, sticky
}

// NewWriter returns a Writer of the data file dst and the index file idx
// (nil: no index) for a recording whose header is h. The caller syncs and
// closes both files after Close.
func NewWriter(dst, idx io.Writer, h asciicast.Header) *Writer {
	w := &Writer{dst: dst, idx: idx}
	w.writeIndex([]byte(indexMagic + "\n"))
	return w
}

// out writes what gzip made since the last flush point to dst, in one
// Write: a write error (a full disk) leaves the file at a flush point,
// where it decodes to whole lines (recorder's hashingWriter cuts a
// partial write back).
func (w *Writer) out() error {
	n, err := w.dst.Write(w.zbuf.Bytes())
	w.n += int64(n)
	w.zbuf.Reset()
	return w.fail(err)
}

// Write compresses p, whole asciicast lines, and flushes it to the data
// file. The chunk closes after p once it spans ChunkSpan or holds
// ChunkBytes.
func (w *Writer) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if !w.hdr {
		w.hdr = true
		w.z.begin(&w.zbuf)
		w.z.write(p)
		w.z.end()
		return len(p), w.out()
	}
	if !w.open {
		w.z.begin(&w.zbuf)
		at := lineTime(p)
		w.open, w.bytes = true, 0
		w.cur = chunk{Chunk: Chunk{Start: at}, off: w.n, kf: Keyframe{At: at}, lazy: true}
	}
	w.z.write(p)
	if err := w.out(); err != nil {
		return 0, err
	}
	w.bytes += int64(len(p))
	if w.idx != nil {
		w.count(p)
	}
	w.cur.End = lineTime(lastLine(p))
	if w.bytes >= ChunkBytes || w.cur.End-w.cur.Start >= ChunkSpan {
		return len(p), w.closeChunk()
	}
	return len(p), nil
}

// count adds the event lines p to the open chunk's counts: events, output
// bytes (as encoded), markers and the last resize. It looks at each
// line's code only.
func (w *Writer) count(p []byte) {
	for len(p) > 0 {
		nl := bytes.IndexByte(p, '\n')
		if nl < 0 {
			return
		}
		line := p[:nl+1]
		p = p[nl+1:]
		w.cur.Events++
		comma := bytes.IndexByte(line, ',')
		if comma < 0 || len(line) < comma+8 {
			continue
		}
		switch string(line[comma+1 : comma+5]) {
		case `"o",`:
			w.cur.OutBytes += int64(len(line) - comma - 5 - len(`""]`+"\n"))
		case `"m",`:
			if ev, ok, err := decode(line); err == nil && ok {
				w.cur.markers = append(w.cur.markers, Marker{At: ev.Time, Label: ev.Data})
			}
		case `"r",`:
			if ev, ok, err := decode(line); err == nil && ok {
				w.cur.resize = ev.Data
			}
		}
	}
}

func (w *Writer) closeChunk() error {
	w.open = false
	w.z.end()
	if err := w.out(); err != nil {
		return err
	}
	w.cur.n = w.n - w.cur.off
	w.writeIndex(w.cur.line())
	return nil
}

// writeIndex writes one index line (keeping the first error).
func (w *Writer) writeIndex(line []byte) {
	if w.idx == nil || w.ierr != nil {
		return
	}
	if _, err := w.idx.Write(line); err != nil {
		w.ierr = fmt.Errorf("write recording index: %w", err)
	}
}

// Quiet gives the compressor back to the process's pool (the
// asciicast.Writer calls it after each timed flush, at most once a
// second): a session that prints nothing holds no compressor, only the
// last histSize bytes of its chunk, which prime the next one. The chunk
// stays open; its member goes on.
func (w *Writer) Quiet() {
	w.z.release()
	if w.zbuf.Cap() > 4<<10 {
		w.zbuf = bytes.Buffer{}
	}
}

// ErrData marks a Writer's error as one of the data file (not of the
// index, which can be rebuilt from it).
var ErrData = errors.New("write compressed recording")

func (w *Writer) fail(err error) error {
	if err != nil && w.err == nil {
		w.err = fmt.Errorf("%w: %w", ErrData, err)
	}
	return w.err
}

// Close ends the open chunk's member and ends the index with the line
// that says the recording is closed. It returns the data file's first write error, then the index
// file's.
func (w *Writer) Close() error {
	if w.open && w.err == nil {
		_ = w.closeChunk()
	}
	if w.err != nil {
		return w.err
	}
	t, _ := json.Marshal(trailerLine{Closed: w.n}) // never fails
	w.writeIndex(append(t, '\n'))
	return w.ierr
}

// lineTime reads the time at the start of an event line ("[12.5, ...");
// 0 when there is none.
func lineTime(line []byte) float64 {
	if len(line) < 2 || line[0] != '[' {
		return 0
	}
	end := bytes.IndexByte(line, ',')
	if end < 0 {
		return 0
	}
	num := line[1:end]
	t, err := strconv.ParseFloat(unsafe.String(unsafe.SliceData(num), len(num)), 64)
	if err != nil {
		return 0
	}
	return t
}

// lastLine returns the last line of p, whole lines ending in '\n'.
func lastLine(p []byte) []byte {
	i := bytes.LastIndexByte(p[:len(p)-1], '\n')
	return p[i+1:]
}
