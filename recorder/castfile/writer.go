package castfile

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/jumpcast/jumpcast/recorder/asciicast"
)

// Level is the gzip level of the data file: the fastest, so that
// compressing costs the recording little; text still shrinks tenfold and
// more (bench/README.md has the figures).
const Level = gzip.BestSpeed

// closeWait is how long Close waits for the indexer to finish its queue
// before it stops it, so that the end of a session is not held up.
const closeWait = 2 * time.Second

// queueLen bounds the indexer's queue: about 16 MiB of event lines (each
// Write is at most a 64 KiB flush).
const queueLen = 256

// Writer writes the compressed format: it takes the asciicast v2 stream
// (an asciicast.Writer's output: the header line first, then whole event
// lines) and writes it to the data file as gzip members — the header
// alone in the first, then one member per chunk — and, beside it, the
// index file: one line per closed chunk with its byte range, times,
// counts, markers and the keyframe of its start.
//
// Durability: each Write ends with a gzip sync flush, so the data file
// decodes (zcat, or Open) to the end of the last Write even if the
// process dies before the member is closed. With an index file, the
// keyframes are computed off the caller's path, by a goroutine the Writer
// owns, fed copies of the lines through a bounded queue that a Write
// never waits for: an indexer that falls behind stops (see send), the
// recording does not. Without one (the recorder's sessions), nothing but
// compression happens here.
//
// Not safe for concurrent use: asciicast.Writer calls Write under its
// lock, and Close comes after the asciicast.Writer's Close.
type Writer struct {
	dst   io.Writer
	n     int64        // bytes written to dst
	zbuf  bytes.Buffer // z's output since the last flush point
	z     *gzip.Writer
	open  bool    // a chunk member is open
	start float64 // time of the open chunk's first event
	bytes int64   // event line bytes in the open chunk
	hdr   bool    // the header member is written
	err   error   // first write error, sticky
	// behind is set when the indexer's queue was full: it gets nothing
	// more (send).
	behind bool

	work  chan work     // to the indexer; closed by Close
	done  chan struct{} // closed when the indexer returns
	ierr  error         // the indexer's first error; read after done
	stop  atomic.Bool   // set by Close after closeWait: the indexer returns
	whole bool          // Convert's: sends wait, Close waits, the index is whole
}

// work is one thing for the indexer: a chunk that begins at byte begin,
// event lines, or the end of the open chunk at byte end (-1: not this).
type work struct {
	begin, end int64
	lines      []byte
}

// NewWriter returns a Writer of the data file dst and the index file idx
// for a recording whose header is h (its size is the first keyframe's).
// The caller syncs and closes both files after Close. A nil idx: no index and no emulation at all — the
// recorder's sessions write only the data, and their index is made after
// Close, off the session's path (WriteIndex; readers complete a missing
// index from the data).
func NewWriter(dst, idx io.Writer, h asciicast.Header) *Writer {
	w := &Writer{dst: dst}
	w.z, _ = gzip.NewWriterLevel(&w.zbuf, Level) // Level is valid
	if idx != nil {
		w.work, w.done = make(chan work, queueLen), make(chan struct{})
		go w.index(idx, h.Width, h.Height) // owner: the Writer, until Close
	}
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
		_, _ = w.z.Write(p) // into zbuf: no error
		_ = w.z.Close()
		return len(p), w.out()
	}
	if !w.open {
		w.z.Reset(&w.zbuf)
		w.open, w.bytes, w.start = true, 0, lineTime(p)
		w.send(work{begin: w.n, end: -1})
	}
	_, _ = w.z.Write(p)
	_ = w.z.Flush()
	if err := w.out(); err != nil {
		return 0, err
	}
	w.bytes += int64(len(p))
	if !w.behind {
		w.send(work{begin: -1, end: -1, lines: bytes.Clone(p)})
	}
	if w.bytes >= ChunkBytes || lineTime(lastLine(p))-w.start >= ChunkSpan {
		return len(p), w.closeChunk()
	}
	return len(p), nil
}

func (w *Writer) closeChunk() error {
	w.open = false
	_ = w.z.Close()
	if err := w.out(); err != nil {
		return err
	}
	w.send(work{begin: -1, end: w.n})
	return nil
}

// ErrData marks a Writer's error as one of the data file (not of the
// index, which can be rebuilt from it).
var ErrData = errors.New("write compressed recording")

// send queues wk for the indexer without ever waiting: when the queue is
// full the indexer has fallen behind the output (the emulator is slower
// than a fast scrolling stream), and it is given nothing more. The index
// then ends at the last chunk it closed; readers complete it from the
// data (Open), and recovery or Repair rewrites it whole.
func (w *Writer) send(wk work) {
	if w.work == nil {
		return
	}
	if w.whole {
		w.work <- wk
		return
	}
	if w.behind {
		return
	}
	select {
	case w.work <- wk:
	default:
		w.behind = true
	}
}

func (w *Writer) fail(err error) error {
	if err != nil && w.err == nil {
		w.err = fmt.Errorf("%w: %w", ErrData, err)
	}
	return w.err
}

// Close ends the open chunk's member and waits for the index to be
// written (at most closeWait: then the indexer stops where it is). It returns the data file's first write error, then the index
// file's.
func (w *Writer) Close() error {
	if w.open && w.err == nil {
		_ = w.closeChunk()
	}
	if w.work == nil {
		return w.err
	}
	close(w.work)
	wait := time.After(closeWait)
	if w.whole {
		wait = nil
	}
	select {
	case <-w.done:
	case <-wait:
		w.stop.Store(true) // the rest of the index is left to readers
		<-w.done
	}
	if w.err != nil {
		return w.err
	}
	return w.ierr
}

// index is the indexer: it replays the lines into a Screen and writes one
// index line per closed chunk.
func (w *Writer) index(idx io.Writer, cols, rows int) {
	defer close(w.done)
	scr := NewScreen(cols, rows)
	defer func() { _ = scr.Close() }()
	b := newBuilder(scr)
	if _, err := io.WriteString(idx, indexMagic+"\n"); err != nil {
		w.ierr = fmt.Errorf("write recording index: %w", err)
	}
	begin := int64(-1)
	for wk := range w.work {
		if w.stop.Load() {
			return
		}
		switch {
		case wk.begin >= 0:
			begin = wk.begin
		case wk.end >= 0:
			if b.open {
				b.end(wk.end)
				if _, err := idx.Write(b.chunks[len(b.chunks)-1].line()); err != nil && w.ierr == nil {
					w.ierr = fmt.Errorf("write recording index: %w", err)
				}
				b.chunks = b.chunks[:0]
			}
		default:
			_ = eachEvent(bytes.NewReader(wk.lines), func(ev asciicast.Event, n int) error {
				if begin >= 0 {
					b.begin(begin, ev.Time)
					begin = -1
				}
				b.event(ev, n)
				return nil
			})
		}
	}
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
