package recorder

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jumpcast/jumpcast/internal/recording"
	"github.com/jumpcast/jumpcast/recorder/asciicast"
)

// Session is one recording in progress. Output, Input and Resize are safe
// for concurrent use; after the first write error they all return it (the
// caller applies the failure policy). Close finalizes it once.
//
// Output, Input and Resize do not encode or write: they take the event's
// time, copy the bytes into a pooled buffer and queue them (see enqueue);
// a worker goroutine encodes, hashes and writes in queue order. A failure found by the worker is returned by the
// next call and reported at once to the function given to NotifyFailure.
type Session struct {
	m     *Manager
	file  *os.File
	hw    *hashingWriter
	w     *asciicast.Writer
	feed  *feed // nil without a Hub; set before Start returns
	sftp  *sftpParser
	start time.Time // m.now() at start, carrying the monotonic reading

	bytesIn, bytesOut atomic.Int64

	q       chan item      // events waiting for the worker; capacity queueDepth
	qmu     sync.RWMutex   // held for reading while queuing, for writing by Close to stop it
	qclosed bool           // guarded by qmu: Close has begun, nothing more is queued
	running atomic.Bool    // a worker is draining q
	workers sync.WaitGroup // the worker, if one runs; Close waits for it
	summary bool           // no PTY: binary output is counted (WriterOptions.SummarizeBinary)
	// at is the Writer's clock: the time of the event being written. The
	// holder of the worker role sets it before each item; Close, once the
	// queue has stopped, sets it to the time of the close.
	at time.Duration

	mu       sync.Mutex // guards rec, failErr, onFail, notified, closed and closeErr
	rec      recording.Meta
	failErr  error
	onFail   func(error)
	notified bool // onFail has been called
	closed   bool
	closeErr error
}

// hashingWriter writes to the file and hashes exactly the bytes written.
type hashingWriter struct {
	f io.Writer
	h hash.Hash
	n int64
}

func (hw *hashingWriter) Write(p []byte) (int, error) {
	n, err := hw.f.Write(p)
	if err != nil && n > 0 {
		// A full disk can take part of a line. Cut the file back to the
		// last whole line, so that strict readers (asciinema 2.2) still
		// read it and the hash covers what stays; the error is reported.
		if f, ok := hw.f.(*os.File); ok && f.Truncate(hw.n) == nil {
			n = 0
			_, _ = f.Seek(hw.n, io.SeekStart) // nothing more is written after an error
		}
	}
	hw.h.Write(p[:n])
	hw.n += int64(n)
	return n, err
}

func newSession(m *Manager, info SessionInfo, f *os.File, rel string) *Session {
	s := &Session{m: m, file: f, hw: &hashingWriter{f: f, h: sha256.New()}, start: m.now(),
		q: make(chan item, queueDepth)}
	s.rec = startMeta(info, rel)
	return s
}

// open writes the header, tells the Index and goes live.
func (s *Session) open(ctx context.Context, info SessionInfo) error {
	// Without a PTY the stream may be a pipe of anything (tar, scp -t):
	// binary runs are summarized, text is still recorded exactly.
	s.summary = !info.PTY
	opt := asciicast.WriterOptions{
		Clock:           func() time.Duration { return s.at },
		FlushInterval:   s.m.o.FlushInterval,
		SummarizeBinary: s.summary,
		OnEvent:         s.publish,
		OnFlushError:    s.fail,
	}
	w, err := asciicast.NewWriter(s.hw, header(info), opt)
	if err != nil {
		return err
	}
	s.w = w
	if info.Kind == KindSFTP {
		// The parser runs on the worker: the marker takes the time the
		// request passed the bastion (s.at), not the time it was parsed.
		s.sftp = newSFTPParser(func(label string) { s.fail(s.w.Marker(label)) })
	}
	if s.m.o.Index != nil {
		if err := s.m.o.Index.Started(ctx, s.Meta()); err != nil {
			return fmt.Errorf("index: %w", err)
		}
	}
	if s.m.o.Hub != nil {
		feed, err := s.m.o.Hub.publish(info.ID, s)
		if err != nil {
			s.m.log.Warn("recording not offered live", "session_id", info.ID, "err", err)
		}
		s.feed = feed
	}
	return nil
}

// publish is the Writer's OnEvent: it runs under the Writer's lock.
func (s *Session) publish(ev asciicast.Event) {
	if s.feed != nil {
		s.feed.Send(ev)
	}
}

// snapshot implements source for the Hub: the file as flushed at the
// moment attach runs, read through a separate descriptor.
func (s *Session) snapshot(attach func()) (io.ReadCloser, error) {
	var off int64
	if err := s.w.Snapshot(func(o int64) { off = o; attach() }); err != nil {
		return nil, err
	}
	f, err := s.m.o.Dir.Open(s.rec.Path)
	if err != nil {
		return nil, err
	}
	return struct {
		io.Reader
		io.Closer
	}{io.LimitReader(f, off), f}, nil
}

// ID returns the recording id.
func (s *Session) ID() string { return s.rec.ID }

// Meta returns a copy of the recording's metadata as of now.
func (s *Session) Meta() recording.Meta {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.rec
	r.BytesIn, r.BytesOut = s.bytesIn.Load(), s.bytesOut.Load()
	return r
}

// Output records bytes the admin's client received (counted always; an
// sftp session's data is not recorded). p is copied; the caller may reuse
// it when Output returns.
func (s *Session) Output(p []byte) error {
	s.bytesOut.Add(int64(len(p)))
	if err := s.failed(); err != nil || s.sftp != nil || len(p) == 0 {
		return err
	}
	return s.enqueueData(opOutput, p)
}

// Input records bytes the admin sent: counted always, written as "i"
// events only with RecordInput, parsed for file operations in sftp.
func (s *Session) Input(p []byte) error {
	s.bytesIn.Add(int64(len(p)))
	if err := s.failed(); err != nil || len(p) == 0 {
		return err
	}
	if s.sftp != nil {
		return s.enqueueData(opSFTP, p)
	}
	if !s.m.o.RecordInput {
		return nil
	}
	return s.enqueueData(opInput, p)
}

// Resize records a window change.
func (s *Session) Resize(width, height int) error {
	if err := s.failed(); err != nil || s.sftp != nil {
		return err
	}
	return s.enqueue(item{op: opResize, at: s.elapsed(), w: width, h: height})
}

// NotifyFailure sets fn to be called once, from the worker or the flush
// timer's goroutine, when the recording fails — at once, on the caller's
// goroutine, if it already has. It replaces an earlier fn. Without it, a failure
// is only seen by the next Output, Input or Resize, which an idle session
// may never make. fn must not call the Session.
func (s *Session) NotifyFailure(fn func(error)) {
	s.mu.Lock()
	s.onFail = fn
	err := s.failErr
	call := err != nil && fn != nil
	s.notified = call
	s.mu.Unlock()
	if call {
		fn(err)
	}
}

func (s *Session) failed() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.failErr
}

// record notes err as the recording's failure (the first one wins).
func (s *Session) record(err error) error {
	if err == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failErr == nil {
		s.failErr = err
		s.m.log.Error("recording failed", "session_id", s.rec.ID, "err", err)
	}
	return s.failErr
}

// fail records err (nil: nothing) and calls the NotifyFailure function
// once, outside the lock.
func (s *Session) fail(err error) {
	if s.record(err) == nil {
		return
	}
	s.mu.Lock()
	fn, first := s.onFail, !s.notified
	if fn != nil && first {
		s.notified = true
	}
	err = s.failErr
	s.mu.Unlock()
	if fn != nil && first {
		fn(err)
	}
}

// Close finalizes the recording: trailing events, flush, fsync, close,
// end of the live feed, SHA-256 and size, and Index.Finished (with ctx).
// It is idempotent: later calls return the first call's result.
func (s *Session) Close(ctx context.Context, exit asciicast.Exit) error {
	s.mu.Lock()
	if s.closed {
		defer s.mu.Unlock()
		return s.closeErr
	}
	s.closed = true
	s.mu.Unlock()
	s.stopQueue()

	s.at = s.elapsed()
	if s.sftp != nil {
		_ = s.record(s.w.Marker("[sftp: " + strconv.FormatInt(s.bytesIn.Load(), 10) + " bytes up, " +
			strconv.FormatInt(s.bytesOut.Load(), 10) + " bytes down]"))
	}
	if err := s.w.Close(exit); err != nil && !errors.Is(err, asciicast.ErrClosed) {
		_ = s.record(err)
	}
	if err := s.file.Sync(); err != nil {
		_ = s.record(fmt.Errorf("sync recording: %w", err))
	}
	if err := s.file.Close(); err != nil {
		_ = s.record(fmt.Errorf("close recording: %w", err))
	}
	if s.feed != nil {
		s.feed.End()
	}
	rec := s.finish(exit)
	var err error
	if rec.Status == recording.StatusFailed {
		err = fmt.Errorf("recording %s: %s", rec.ID, rec.Error)
	}
	if s.m.o.Index != nil {
		if ierr := s.m.o.Index.Finished(ctx, rec); ierr != nil {
			err = errors.Join(err, fmt.Errorf("index recording %s: %w", rec.ID, ierr))
		}
	}
	// The file's hash in the log as well as in the index: logs shipped off
	// the bastion keep it where editing the data folder cannot reach.
	s.m.log.Info("recording closed", "session_id", rec.ID, "status", rec.Status,
		"bytes", rec.FileSize, "duration", rec.Duration, "sha256", rec.SHA256, "err", rec.Error)
	s.mu.Lock()
	s.closeErr = err
	s.mu.Unlock()
	return err
}

// finish fills the end-of-recording fields and returns the final Meta.
func (s *Session) finish(exit asciicast.Exit) recording.Meta {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rec.End = s.m.now()
	s.rec.Duration = s.rec.End.Sub(s.start)
	s.rec.ExitStatus, s.rec.ExitSignal = exitStatus(exit), exit.Signal
	s.rec.FileSize = s.hw.n
	s.rec.SHA256 = hex.EncodeToString(s.hw.h.Sum(nil))
	s.rec.BytesIn, s.rec.BytesOut = s.bytesIn.Load(), s.bytesOut.Load()
	s.rec.Status = recording.StatusFinished
	if s.failErr != nil {
		s.rec.Status, s.rec.Error = recording.StatusFailed, s.failErr.Error()
	}
	return s.rec
}

// queueDepth bounds the events queued for a session's worker. Queuing
// blocks when it is full: a recording that cannot keep up slows the
// session down (backpressure to the admin) rather than dropping bytes or
// growing without bound. With 32 KiB reads this is at most 256 KiB in
// flight per session.
const queueDepth = 8

// Pooled buffer sizes: keystrokes and prompts fit the small one, a full
// SSH read (io.Copy's 32 KiB) the large one. Longer chunks get a buffer of
// their own.
const (
	smallBuf = 512
	largeBuf = 32 << 10
)

var (
	smallPool = sync.Pool{New: func() any { b := make([]byte, smallBuf); return &b }}
	largePool = sync.Pool{New: func() any { b := make([]byte, largeBuf); return &b }}
)

// op is what a queued item asks of the worker.
type op uint8

const (
	opOutput op = iota // data on the output stream
	opInput            // data on the input stream ("i" events)
	opBinary           // n bytes of binary output (contains NUL), not copied
	opSFTP             // sftp requests to parse for markers
	opResize           // a window change to w×h
	opNone             // nothing (an item already applied)
)

// item is one queued event: its time was taken when the bytes passed.
type item struct {
	op   op
	at   time.Duration
	data []byte  // the bytes, in buf
	buf  *[]byte // pooled buffer to return, or nil
	n    int     // opBinary: byte count
	w, h int     // opResize
}

// elapsed is the event time of something passing now.
func (s *Session) elapsed() time.Duration { return s.m.now().Sub(s.start) }

// enqueueData queues a copy of p. Output without a PTY that contains a
// NUL byte is binary whatever the UTF-8 carry holds (see
// asciicast.Writer.BinaryOutput): only its length is queued.
func (s *Session) enqueueData(o op, p []byte) error {
	it := item{op: o, at: s.elapsed()}
	if o == opOutput && s.summary && bytes.IndexByte(p, 0) >= 0 {
		it.op, it.n = opBinary, len(p)
		if s.countInline(it) {
			return s.failed()
		}
		return s.enqueue(it)
	}
	switch {
	case len(p) <= smallBuf:
		it.buf = smallPool.Get().(*[]byte)
	case len(p) <= largeBuf:
		it.buf = largePool.Get().(*[]byte)
	}
	if it.buf != nil {
		it.data = (*it.buf)[:copy(*it.buf, p)]
	} else {
		it.data = bytes.Clone(p)
	}
	return s.enqueue(it)
}

// enqueue hands it to the worker, starting one if none runs. It blocks
// while the queue is full. After Close has begun it returns ErrClosed.
func (s *Session) enqueue(it item) error {
	s.qmu.RLock()
	defer s.qmu.RUnlock()
	if s.qclosed {
		release(it)
		return asciicast.ErrClosed
	}
	s.q <- it
	if s.running.CompareAndSwap(false, true) {
		s.workers.Add(1)
		go s.drain() // owner: Session; exits when q is empty, Close waits for it
	}
	return nil
}

// countInline applies a binary count on the calling goroutine when no
// worker runs and nothing is queued: adding to a counter under the
// Writer's lock, with no encoding and no I/O, is cheaper than waking a
// worker for every 32 KiB of a binary stream (scp, tar). It takes the
// worker's role (running) for that moment, so order is kept; false means
// the caller queues it.
func (s *Session) countInline(it item) bool {
	s.qmu.RLock()
	defer s.qmu.RUnlock()
	if s.qclosed || len(s.q) > 0 || !s.running.CompareAndSwap(false, true) {
		return false
	}
	if len(s.q) == 0 {
		s.apply(it)
		it.op = opNone
	}
	s.running.Store(false)
	if len(s.q) > 0 && s.running.CompareAndSwap(false, true) {
		s.workers.Add(1)
		go s.drain() // owner: Session; as in enqueue
	}
	return it.op == opNone
}

// drain is the worker: it applies queued items in order until the queue is
// empty, then exits (an idle session holds no goroutine). The recheck
// after clearing running closes the race with a concurrent enqueue: either
// that enqueue starts a new worker or this one continues.
func (s *Session) drain() {
	defer s.workers.Done()
	for {
		select {
		case it := <-s.q:
			s.apply(it)
		default:
			s.running.Store(false)
			if len(s.q) == 0 || !s.running.CompareAndSwap(false, true) {
				return
			}
		}
	}
}

// apply writes one item. After a failure items are only released, so that
// queuing never blocks on a dead recording.
func (s *Session) apply(it item) {
	defer release(it)
	if s.failed() != nil {
		return
	}
	s.at = it.at
	var err error
	switch it.op {
	case opOutput:
		err = s.w.Output(it.data)
	case opInput:
		err = s.w.Input(it.data)
	case opBinary:
		err = s.w.BinaryOutput(it.n)
	case opSFTP:
		s.sftp.feed(it.data)
	case opResize:
		err = s.w.Resize(it.w, it.h)
	}
	s.fail(err)
}

// release returns it's buffer to its pool.
func release(it item) {
	if it.buf == nil {
		return
	}
	switch cap(*it.buf) {
	case smallBuf:
		smallPool.Put(it.buf)
	case largeBuf:
		largePool.Put(it.buf)
	}
}

// stopQueue stops queuing and waits until every queued item is written.
// Calls already queuing finish first (they hold qmu for reading).
func (s *Session) stopQueue() {
	s.qmu.Lock()
	s.qclosed = true
	s.qmu.Unlock()
	s.workers.Wait()
	for len(s.q) > 0 { // not reached: the worker drains before it exits
		s.apply(<-s.q)
	}
}
