package asciicast

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"
	"unsafe"

	"github.com/jumpcast/jumpcast/internal/recording"
)

// flushSize is how many buffered bytes trigger an immediate write. Lines
// are only ever written whole, so a file cut by a crash ends on a line.
const flushSize = 64 << 10

// idleBufMax is the most buffer capacity a Writer keeps once its stream
// goes quiet (see timerFlush); a prompt and a few keystrokes fit.
const idleBufMax = 4 << 10

// ErrClosed is returned by a Writer's methods after Close.
var ErrClosed = errors.New("recording closed")

// WriterOptions tune a Writer. The zero value is a sensible default.
type WriterOptions struct {
	// Clock returns the time of the event being recorded, as time since
	// the start of the recording. It is called once by each Output, Input,
	// Resize, Marker and Close, on the caller's goroutine, before the
	// event is recorded: a caller that records an event later than it
	// happened (recorder.Session's worker) answers the time it happened.
	// nil means a monotonic clock started by NewWriter. Tests inject one.
	Clock func() time.Duration
	// FlushInterval bounds how long an encoded event stays in memory
	// before it is written. 0 (or anything above
	// recording.MaxFlushInterval) means recording.MaxFlushInterval.
	FlushInterval time.Duration
	// SummarizeBinary is for exec sessions without a PTY: a run of binary
	// chunks (holding a NUL byte or invalid UTF-8) becomes one "m" event "[binary output: N
	// bytes]" (or "[binary input: …]") written when the run ends, instead
	// of escaped JSON. Text chunks are still recorded exactly.
	SummarizeBinary bool
	// OnEvent, if set, is called with every event after it has been
	// encoded into the buffer, in file order, with the Writer's lock held:
	// it must not block and must not call the Writer. ev.Data may share
	// memory with the caller's buffer and is valid only during the call:
	// copy it (strings.Clone) to keep it. Package recorder uses it to feed
	// its live Hub, which copies what it keeps.
	OnEvent func(Event)
	// OnFlushError, if set, is called with the error when a timed flush
	// (see FlushInterval) fails, on the timer's goroutine, without the
	// Writer's lock: no call may be coming that would return it. The
	// error is sticky as any other (see Writer).
	OnFlushError func(error)
}

// stream indexes the per-direction state.
type stream int

const (
	streamOut stream = iota
	streamIn
)

// Writer writes one asciicast v2 stream. It is safe for concurrent use:
// Output from the stdout and stderr copiers, Input from the stdin copier and
// Resize from the request loop. The first write error is sticky: every
// later call returns it. Close does not close the underlying io.Writer.
//
// Lifecycle: NewWriter writes the header; then Output, Input, Resize,
// Marker, BinaryOutput and Snapshot may be called in any order
// from any goroutine; Close writes the trailing events once, after which
// every recording call returns ErrClosed. Meanwhile the flush timer, armed
// by the first event after a write, writes the buffer at most FlushInterval
// later on its own goroutine.
//
// Locking: mu is the Writer's only lock. Every method holds it while it
// touches the stream, OnEvent is called under it, and OnFlushError and
// Clock are called without it.
type Writer struct {
	clock      func() time.Duration
	interval   time.Duration
	summarize  bool
	onEvent    func(Event)
	onFlushErr func(error)

	mu      sync.Mutex // guards every field below and writes to dst
	dst     io.Writer
	buf     []byte      // whole encoded lines not yet written to dst
	offset  int64       // bytes written to dst so far
	last    float64     // time of the last event, to keep times non-decreasing
	carries [2]carry    // per stream: trailing incomplete UTF-8
	binRun  [2]int64    // per stream: bytes of the binary run in progress
	scratch []byte      // reused by carry.join
	timer   *time.Timer // pending flush, nil when buf is empty or flushed
	err     error       // first write error, sticky
	closed  bool
}

// NewWriter writes h's header line (Version 0 means 2; a zero size means
// 80×24) to w and returns a Writer for the events. The header is written to
// w before NewWriter returns.
func NewWriter(w io.Writer, h Header, opt WriterOptions) (*Writer, error) {
	if h.Version == 0 {
		h.Version = 2
	}
	if h.Width <= 0 || h.Height <= 0 {
		h.Width, h.Height = DefaultWidth, DefaultHeight
	}
	wr := &Writer{
		clock:      opt.Clock,
		interval:   opt.FlushInterval,
		summarize:  opt.SummarizeBinary,
		onEvent:    opt.OnEvent,
		onFlushErr: opt.OnFlushError,
		dst:        w,
	}
	if wr.clock == nil {
		start := time.Now()
		wr.clock = func() time.Duration { return time.Since(start) }
	}
	if wr.interval <= 0 || wr.interval > recording.MaxFlushInterval {
		wr.interval = recording.MaxFlushInterval
	}
	var hb bytes.Buffer
	enc := json.NewEncoder(&hb)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(h); err != nil {
		return nil, fmt.Errorf("encode asciicast header: %w", err)
	}
	wr.buf = hb.Bytes()
	if err := wr.flushLocked(); err != nil {
		return nil, fmt.Errorf("write asciicast header: %w", err)
	}
	return wr, nil
}

// Output records bytes the admin's client received.
func (w *Writer) Output(p []byte) error { return w.dataAt(streamOut, p, w.clock()) }

// Input records bytes the admin sent.
func (w *Writer) Input(p []byte) error { return w.dataAt(streamIn, p, w.clock()) }

// Resize records a window change as an "r" event.
func (w *Writer) Resize(width, height int) error {
	at := w.clock()
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.usable(); err != nil {
		return err
	}
	return w.emit(CodeResize, resizeData(width, height), at)
}

// Marker records an "m" event with label.
func (w *Writer) Marker(label string) error {
	at := w.clock()
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.usable(); err != nil {
		return err
	}
	return w.emit(CodeMarker, label, at)
}

// Close ends the recording: it writes what the UTF-8 carries still hold
// (as U+FFFD: a character that never completed), the marker of a pending
// binary run, a "[session ended: reason]" marker when exit.Reason is set,
// the trailing "x" event, and flushes. A second Close returns ErrClosed.
func (w *Writer) Close(exit Exit) error {
	at := w.clock()
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return ErrClosed
	}
	defer func() {
		w.closed = true
		if w.timer != nil {
			w.timer.Stop()
			w.timer = nil
		}
	}()
	if w.err != nil {
		return w.err
	}
	for _, s := range []stream{streamOut, streamIn} {
		if err := w.endBinaryRun(s, at); err != nil {
			return err
		}
		if w.carries[s].n > 0 {
			if err := w.emit(s.code(), string(w.carries[s].take()), at); err != nil {
				return err
			}
		}
	}
	if exit.Reason != "" {
		if err := w.emit(CodeMarker, "[session ended: "+exit.Reason+"]", at); err != nil {
			return err
		}
	}
	if err := w.emit(CodeExit, exitData(exit), at); err != nil {
		return err
	}
	return w.flushLocked()
}

// Snapshot flushes the buffer and calls fn with the number of bytes written
// to the underlying writer so far, while no event can be added: the file's
// first offset bytes are exactly the events before any event that OnEvent
// reports after fn returns. fn must not call the Writer.
func (w *Writer) Snapshot(fn func(offset int64)) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.err
	}
	if err := w.flushLocked(); err != nil {
		return err
	}
	fn(w.offset)
	return nil
}

func (s stream) code() string {
	if s == streamIn {
		return CodeInput
	}
	return CodeOutput
}

func (w *Writer) usable() error {
	if w.err != nil {
		return w.err
	}
	if w.closed {
		return ErrClosed
	}
	return nil
}

// dataAt records p, which passed at time at, on stream s: UTF-8 carry,
// then binary summary or event.
func (w *Writer) dataAt(s stream, p []byte, at time.Duration) error {
	if len(p) == 0 {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.usable(); err != nil {
		return err
	}
	b := w.carries[s].join(p, &w.scratch)
	if w.summarize && looksBinary(b) {
		w.binRun[s] += int64(len(b) + w.carries[s].n)
		w.carries[s].n = 0
		return nil
	}
	if err := w.endBinaryRun(s, at); err != nil {
		return err
	}
	if len(b) == 0 {
		return nil
	}
	// b is only read while emit runs (encoding copies it into the buffer),
	// so it is passed as a string without copying; OnEvent's contract
	// says the same about ev.Data.
	return w.emit(s.code(), unsafe.String(unsafe.SliceData(b), len(b)), at)
}

// BinaryOutput records n bytes of output that contain a NUL byte without
// looking at them: with SummarizeBinary such a chunk joins the binary run
// (with whatever the UTF-8 carry held), exactly as Output would do with
// it, for the cost of an addition. Without SummarizeBinary it is an error:
// the bytes would have been recorded.
func (w *Writer) BinaryOutput(n int) error {
	if !w.summarize {
		return errors.New("asciicast: BinaryOutput without SummarizeBinary")
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.usable(); err != nil {
		return err
	}
	w.binRun[streamOut] += int64(n + w.carries[streamOut].n)
	w.carries[streamOut].n = 0
	return nil
}

// endBinaryRun writes the marker of stream s's binary run, if any.
func (w *Writer) endBinaryRun(s stream, at time.Duration) error {
	n := w.binRun[s]
	if n == 0 {
		return nil
	}
	w.binRun[s] = 0
	what := "output"
	if s == streamIn {
		what = "input"
	}
	return w.emit(CodeMarker, "[binary "+what+": "+strconv.FormatInt(n, 10)+" bytes]", at)
}

// emit encodes one event that happened at time at into the buffer,
// reports it to OnEvent, and writes the buffer when it is large or arms
// the flush timer. Called with w.mu held.
func (w *Writer) emit(code, data string, at time.Duration) error {
	t := float64(at.Microseconds()) / 1e6
	if t < w.last {
		t = w.last
	}
	w.last = t
	w.buf = append(appendEvent(w.buf, t, code, data), '\n')
	if w.onEvent != nil {
		w.onEvent(Event{Time: t, Code: code, Data: data})
	}
	// The timer stays armed across size-triggered flushes: when it fires
	// it writes what a burst left behind and, once the stream is quiet,
	// gives the burst's buffers back (timerFlush).
	if w.timer == nil {
		w.timer = time.AfterFunc(w.interval, w.timerFlush)
	}
	if len(w.buf) >= flushSize {
		return w.flushLocked()
	}
	return nil
}

// Quieter is a Writer's destination that keeps memory for a stream in
// flow (a compressor): the Writer calls Quiet after each timed flush,
// once everything buffered is written, and the destination may give that
// memory back until its next Write. Calls are serialized with Write.
type Quieter interface{ Quiet() }

// timerFlush runs on the flush timer's goroutine (owned by the time
// package; it exits when the function returns).
func (w *Writer) timerFlush() {
	w.mu.Lock()
	w.timer = nil
	var err error
	if w.err == nil && !w.closed {
		err = w.flushLocked() // sticky: the next call returns it too
	}
	// A buffer grown by a burst of output is given back rather than kept
	// by a session that may now stay idle for hours; a stream still
	// flowing grows a new one (one allocation per FlushInterval).
	if cap(w.buf) > idleBufMax {
		w.buf = nil
	}
	if cap(w.scratch) > idleBufMax {
		w.scratch = nil
	}
	if q, ok := w.dst.(Quieter); ok && err == nil && !w.closed {
		q.Quiet()
	}
	onErr := w.onFlushErr
	w.mu.Unlock()
	if err != nil && onErr != nil {
		onErr(err)
	}
}

// flushLocked writes the buffered whole lines to dst. Called with w.mu held.
func (w *Writer) flushLocked() error {
	if len(w.buf) == 0 {
		return nil
	}
	n, err := w.dst.Write(w.buf)
	w.offset += int64(n)
	w.buf = w.buf[:0]
	if err != nil {
		return w.fail(fmt.Errorf("write recording: %w", err))
	}
	return nil
}

func (w *Writer) fail(err error) error {
	if w.err == nil {
		w.err = err
	}
	return w.err
}
