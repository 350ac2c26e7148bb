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
	"github.com/jumpcast/jumpcast/recorder/castfile"
)

// Session is one recording in progress.
//
// The following are called in order:
//   - Manager.Start makes it (newSession) and opens it (open): the header is
//     written, the Index told, the recording offered to the Hub.
//   - Output and Input, from the session's output and input copiers, and
//     Resize, from its request loop, concurrently, for as long as the
//     session lasts; NotifyFailure at any time. They do not encode or
//     write: they take the event's time, copy the bytes into a pooled
//     buffer and push them on q, whose worker applies them in order
//     through w (encode, hash, write). Until the session's streams are
//     known not to speak SFTP, Output and Input first pass the bytes
//     through sftp (sftp.go), which says what to push: markers for file
//     operations instead of the data, or the bytes as they are.
//   - Close, once the session has ended; later calls return the first
//     call's result. It stops q, which waits for every queued event, then
//     writes the trailing events, syncs and closes the file, ends the live
//     feed and tells the Index.
//
// After the first failure (a write error found by the worker, the
// Writer's flush timer or Close) Output, Input and Resize return it, and
// the function given to NotifyFailure is called once: the caller applies
// the failure policy.
//
// Locks, one per concern: sftp's (the watch, held while Output or Input
// pushes what it reports, so that both directions' pushes keep its
// order), q's (whether pushes are still taken: Close's stop waits for
// those in progress), w's (the stream and the file), the live feed's,
// failure's (the first error and its notification) and mu (rec and the
// result of Close). One is taken under another only in that order —
// sftp's before q's (held by inline while it applies) before w's before
// the feed's — and failure's and mu are never held while another is
// taken. at belongs to q's worker role.
type Session struct {
	m       *Manager
	file    *os.File
	hw      *hashingWriter
	idx     *os.File         // the compressed format's index file; nil: a raw .cast
	cw      *castfile.Writer // compresses w's stream into hw and writes idx; nil without idx
	w       *asciicast.Writer
	feed    *feed      // nil without a Hub; set before Start returns
	sftp    *sftpWatch // whether the streams speak SFTP (sftp.go)
	start   time.Time  // m.now() at start, carrying the monotonic reading
	summary bool       // no PTY: binary runs are counted (asciicast.WriterOptions.SummarizeBinary)
	input   bool       // input is recorded as "i" events (SessionInfo.RecordInput)

	bytesIn, bytesOut atomic.Int64

	q *queue // events on their way to w; applied by s.apply
	// at is w's clock: the time of the event being written. The holder of
	// q's worker role sets it before each item; Close, once q has stopped,
	// sets it to the time of the close.
	at time.Duration

	failure failure // the first error and whom to tell

	mu       sync.Mutex // guards rec, closed and closeErr
	rec      recording.Meta
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
		sftp: newSFTPWatch(), summary: !info.PTY, input: info.RecordInput}
	s.q = newQueue(s.apply)
	s.rec = startMeta(info, rel, m.o.Node)
	return s
}

// open writes the header, tells the Index and goes live.
func (s *Session) open(ctx context.Context, info SessionInfo) error {
	// Without a PTY the streams may be pipes of anything (tar, scp -t):
	// binary runs are summarized, text is still recorded exactly.
	opt := asciicast.WriterOptions{
		Clock:           func() time.Duration { return s.at },
		FlushInterval:   s.m.o.FlushInterval,
		SummarizeBinary: s.summary,
		OnEvent:         s.publish,
		OnFlushError:    s.fail,
	}
	var dst io.Writer = s.hw
	if s.idx != nil {
		s.cw = castfile.NewWriter(s.hw, s.idx, header(info)) // an index without keyframes: see keyframer
		dst = s.cw
	}
	w, err := asciicast.NewWriter(dst, header(info), opt)
	if err != nil {
		return err
	}
	s.w = w
	if s.m.o.Index != nil {
		if err := s.m.o.Index.Started(ctx, s.meta()); err != nil {
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
	f, err := castfile.OpenPlain(s.m.o.Dir.Files(), s.rec.Path)
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

// meta returns a copy of the recording's metadata as of now.
func (s *Session) meta() recording.Meta {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.rec
	r.BytesIn, r.BytesOut = s.bytesIn.Load(), s.bytesOut.Load()
	return r
}

// Output records bytes the admin's client received (counted always; the
// data of an sftp stream is not recorded). p is copied; the caller may
// reuse it when Output returns.
func (s *Session) Output(p []byte) error {
	s.bytesOut.Add(int64(len(p)))
	if err := s.failed(); err != nil || len(p) == 0 {
		return err
	}
	if !s.sftp.raw() {
		return s.watched(true, p)
	}
	return s.enqueueData(opOutput, p)
}

// Input records bytes the admin sent: counted always, written as "i"
// events with SessionInfo.RecordInput, read for file operations while the
// streams speak SFTP.
func (s *Session) Input(p []byte) error {
	s.bytesIn.Add(int64(len(p)))
	if err := s.failed(); err != nil || len(p) == 0 {
		return err
	}
	if !s.sftp.raw() {
		return s.watched(false, p)
	}
	if !s.input {
		return nil
	}
	return s.enqueueData(opInput, p)
}

// TryOutput is Output for a caller that must not wait or be called back:
// the proxy's relay, which records a chunk in a connection's read loop
// while it holds the other connection's write lock. It takes p and
// reports true when that needs no waiting: the recording has not failed,
// the session's streams are known not to speak SFTP, and the queue has
// room. Otherwise it takes nothing and the caller uses Output. It only
// queues p: the caller calls Apply once it has let go of its locks.
func (s *Session) TryOutput(p []byte) bool { return s.tryData(opOutput, p) }

// TryInput is TryOutput for Input.
func (s *Session) TryInput(p []byte) bool { return s.tryData(opInput, p) }

// Apply writes what TryOutput and TryInput queued, on the caller's
// goroutine, unless a worker is at it already; it costs less than waking
// one for a keystroke. A failure is reported through NotifyFailure, from
// this goroutine.
func (s *Session) Apply() { s.q.applyHere() }

func (s *Session) tryData(o op, p []byte) bool {
	if len(p) == 0 || s.failed() != nil || !s.sftp.raw() {
		return false
	}
	count := &s.bytesOut
	if o == opInput {
		count = &s.bytesIn
		if !s.input {
			count.Add(int64(len(p)))
			return true
		}
	}
	it := s.itemFor(o, p)
	if !s.q.tryPush(it) {
		release(it)
		return false
	}
	count.Add(int64(len(p)))
	return true
}

// watched passes p through the sftp watch and pushes what it reports.
func (s *Session) watched(output bool, p []byte) error {
	r := watchReport{s: s}
	s.sftp.feed(output, p, &r)
	if r.err != nil {
		return r.err
	}
	return s.failed()
}

// watchReport pushes what the sftp watch reports: markers, and data as
// Output and Input push it. It keeps the first error.
type watchReport struct {
	s   *Session
	err error
}

func (r *watchReport) marker(label string) {
	if r.err == nil {
		r.err = r.s.q.push(item{op: opMarker, at: r.s.elapsed(), label: label})
	}
}

func (r *watchReport) data(output bool, p []byte) {
	if r.err != nil || len(p) == 0 || !output && !r.s.input {
		return
	}
	o := opInput
	if output {
		o = opOutput
	}
	r.err = r.s.enqueueData(o, p)
}

// Resize records a window change.
func (s *Session) Resize(width, height int) error {
	if err := s.failed(); err != nil {
		return err
	}
	return s.q.push(item{op: opResize, at: s.elapsed(), w: width, h: height})
}

// NotifyFailure sets fn to be called once, from the worker, the flush
// timer's goroutine or Apply's caller, when the recording fails — at once,
// on the caller's goroutine, if it already has. It replaces an earlier fn. Without it, a failure
// is only seen by the next Output, Input or Resize, which an idle session
// may never make. fn must not call the Session.
func (s *Session) NotifyFailure(fn func(error)) { s.failure.setNotify(fn) }

// failed returns the recording's failure, or nil.
func (s *Session) failed() error { return s.failure.get() }

// record notes err as the recording's failure (the first one wins, and is
// logged) and returns the failure; nil err: nothing.
func (s *Session) record(err error) error {
	if err == nil {
		return nil
	}
	failure, first := s.failure.keep(err)
	if first {
		s.m.log.Error("recording failed", "session_id", s.rec.ID, "err", err)
	}
	return failure
}

// fail records err (nil: nothing) and calls the NotifyFailure function
// once.
func (s *Session) fail(err error) {
	if s.record(err) != nil {
		s.failure.report()
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
	s.sftp.end(&watchReport{s: s})
	s.q.stop()

	s.at = s.elapsed()
	if s.sftp.speaking() {
		_ = s.record(s.w.Marker("[sftp: " + strconv.FormatInt(s.bytesIn.Load(), 10) + " bytes up, " +
			strconv.FormatInt(s.bytesOut.Load(), 10) + " bytes down]"))
	}
	if err := s.w.Close(exit); err != nil && !errors.Is(err, asciicast.ErrClosed) {
		_ = s.record(err)
	}
	s.closeIndex()
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
	if s.cw != nil && rec.Status != recording.StatusFailed {
		keyframes.add(keyframeJob{dir: s.m.o.Dir, rel: s.rec.Path, log: s.m.log})
	}
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

// closeIndex ends the compressed format's last chunk and its index. A
// data write error fails the recording; an index error is only logged:
// the index is rebuilt from the data (castfile.Open, Repair).
func (s *Session) closeIndex() {
	if s.cw == nil {
		return
	}
	err := s.cw.Close()
	if err == nil {
		err = s.idx.Sync()
	}
	if cerr := s.idx.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		if errors.Is(err, castfile.ErrData) {
			_ = s.record(err)
			return
		}
		s.m.log.Warn("recording index not written", "session_id", s.rec.ID, "err", err)
	}
}

// finish fills the end-of-recording fields and returns the final Meta.
func (s *Session) finish(exit asciicast.Exit) recording.Meta {
	failed := s.failed()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rec.End = s.m.now()
	s.rec.Duration = s.rec.End.Sub(s.start)
	s.rec.ExitStatus, s.rec.ExitSignal = exitStatus(exit), exit.Signal
	s.rec.FileSize = s.hw.n
	s.rec.SHA256 = hex.EncodeToString(s.hw.h.Sum(nil))
	s.rec.BytesIn, s.rec.BytesOut = s.bytesIn.Load(), s.bytesOut.Load()
	s.rec.Status = recording.StatusFinished
	if failed != nil {
		s.rec.Status, s.rec.Error = recording.StatusFailed, failed.Error()
	}
	return s.rec
}

// elapsed is the event time of something passing now.
func (s *Session) elapsed() time.Duration { return s.m.now().Sub(s.start) }

// enqueueData pushes the item for p (itemFor); a binary count, which
// costs less to apply than waking a worker, is counted at once when the
// queue is idle.
func (s *Session) enqueueData(o op, p []byte) error {
	it := s.itemFor(o, p)
	if it.op == opBinary && s.q.inline(it) {
		return s.failed()
	}
	return s.q.push(it)
}

// itemFor is the item for p, timed now: a copy of p, or, for output
// without a PTY that contains a NUL byte, only its length — such output is
// binary whatever the UTF-8 carry holds (see
// asciicast.Writer.BinaryOutput).
func (s *Session) itemFor(o op, p []byte) item {
	at := s.elapsed()
	if o == opOutput && s.summary && bytes.IndexByte(p, 0) >= 0 {
		return item{op: opBinary, at: at, n: len(p)}
	}
	return dataItem(o, at, p)
}

// apply writes one item; it is q's apply, called by the holder of q's
// worker role. After a failure items are only released, so that queuing
// never blocks on a dead recording.
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
	case opMarker:
		err = s.w.Marker(it.label)
	case opResize:
		err = s.w.Resize(it.w, it.h)
	}
	s.fail(err)
}
