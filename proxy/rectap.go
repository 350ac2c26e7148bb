package proxy

import (
	"context"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jumpcast/jumpcast/recorder/asciicast"
)

// recTap sits between the bridge's copy loops and a SessionRecorder. It
// is a no-op until set is called, stops calling the recorder after the
// first error, and hands that error to onFail once. It also counts the
// bytes that pass, recorded or not. Methods are safe for concurrent use; mu
// guards sr and failed, and is not held while the recorder runs.
type recTap struct {
	onFail func(error) // called once, outside mu, on the first recorder error

	in, out atomic.Int64 // bytes the admin sent / received (stdout and stderr)

	mu     sync.Mutex
	sr     SessionRecorder
	failed bool
	closed bool
}

// failureNotifier is implemented by recorders that write in the
// background (recorder.Session): a failure found there is reported at once
// instead of by the next Output, which an idle session may never make, so
// a fail-closed session ends promptly.
type failureNotifier interface {
	NotifyFailure(fn func(error))
}

// set starts passing the stream to sr.
func (t *recTap) set(sr SessionRecorder) {
	t.mu.Lock()
	t.sr = sr
	t.mu.Unlock()
	if n, ok := sr.(failureNotifier); ok {
		// On a goroutine of its own: the report can come from a
		// connection's read loop (recTap.apply in the relay's fast
		// path), and onFail writes to the admin's connection.
		n.NotifyFailure(func(err error) { go t.fail(err) }) // owner: the failure; ends after onFail
	}
}

// active returns the recorder to call, or nil.
func (t *recTap) active() SessionRecorder {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.failed || t.closed {
		return nil
	}
	return t.sr
}

func (t *recTap) fail(err error) {
	t.mu.Lock()
	first := !t.failed
	t.failed = true
	t.mu.Unlock()
	if first && t.onFail != nil {
		t.onFail(err)
	}
}

// bytes returns how many bytes the admin sent and received so far.
func (t *recTap) bytes() (in, out int64) { return t.in.Load(), t.out.Load() }

func (t *recTap) output(p []byte) {
	t.out.Add(int64(len(p)))
	if sr := t.active(); sr != nil && len(p) > 0 {
		if err := sr.Output(p); err != nil {
			t.fail(err)
		}
	}
}

func (t *recTap) input(p []byte) {
	t.in.Add(int64(len(p)))
	if sr := t.active(); sr != nil && len(p) > 0 {
		if err := sr.Input(p); err != nil {
			t.fail(err)
		}
	}
}

// tryRecorder is implemented by recorders that can take a chunk without
// waiting (recorder.Session's TryOutput and TryInput), and write it later,
// in Apply.
type tryRecorder interface {
	TryOutput(p []byte) bool
	TryInput(p []byte) bool
	Apply()
}

// tryOutput is output for the relay's fast path (fastrelay.go), which
// runs in a connection's read loop holding the other connection's write
// lock: it records and counts p, and reports true, only when that needs
// no waiting; otherwise it does nothing and the copy loop taps p. It
// never calls onFail: a failure found later comes through NotifyFailure.
func (t *recTap) tryOutput(p []byte) bool {
	return t.try(p, &t.out, func(tr tryRecorder) bool { return tr.TryOutput(p) })
}

// apply lets the recorder write what tryOutput and tryInput gave it; the
// fast path calls it once it holds no lock.
func (t *recTap) apply() {
	if tr, ok := t.active().(tryRecorder); ok {
		tr.Apply()
	}
}

// tryInput is tryOutput for input.
func (t *recTap) tryInput(p []byte) bool {
	return t.try(p, &t.in, func(tr tryRecorder) bool { return tr.TryInput(p) })
}

func (t *recTap) try(p []byte, count *atomic.Int64, record func(tryRecorder) bool) bool {
	if sr := t.active(); sr != nil {
		tr, ok := sr.(tryRecorder)
		if !ok || !record(tr) {
			return false
		}
	}
	count.Add(int64(len(p)))
	return true
}

func (t *recTap) resize(w, h int) {
	if sr := t.active(); sr != nil {
		if err := sr.Resize(w, h); err != nil {
			t.fail(err)
		}
	}
}

// close finalizes the recording, once, with a fresh context (the
// session's may be cancelled). It returns the recorder's error.
func (t *recTap) close(exit asciicast.Exit) error {
	t.mu.Lock()
	sr := t.sr
	already := t.closed
	t.closed = true
	t.mu.Unlock()
	if sr == nil || already {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return sr.Close(ctx, exit)
}

// tapWriter hands what it is given to the tap, then writes it to w.
// io.Copy uses its ReadFrom (see copyTapped).
type tapWriter struct {
	w   io.Writer
	tap func([]byte)
}

func (tw tapWriter) Write(p []byte) (int, error) {
	tw.tap(p)
	return tw.w.Write(p)
}

// ReadFrom copies r to the writer, tapping each chunk before it is written.
func (tw tapWriter) ReadFrom(r io.Reader) (int64, error) { return copyTapped(tw.w, r, tw.tap) }

// tapReader reads from r and hands what was read to the tap before it
// returns it. io.Copy uses its WriteTo (see copyTapped).
type tapReader struct {
	r   io.Reader
	tap func([]byte)
}

func (tr tapReader) Read(p []byte) (int, error) {
	n, err := tr.r.Read(p)
	tr.tap(p[:n])
	return n, err
}

// WriteTo copies the reader to w, tapping each chunk before it is written.
func (tr tapReader) WriteTo(w io.Writer) (int64, error) { return copyTapped(w, tr.r, tr.tap) }

// Copy buffer sizes. A copy loop spends most of its life blocked in Read
// (an interactive session waits for the next keystroke or the next line),
// and the buffer it reads into stays allocated all that time: io.Copy's
// 32 KiB, three times per session, was half of an idle session's memory.
// copyTapped reads into a small buffer of its own and switches to a pooled
// large one only while reads come back full (a stream is flowing), giving
// it back as soon as a read is short again.
//
// The large size is two SSH packets: x/crypto sends a window adjustment
// on every Read while more than 96 KiB are waiting in the channel (as in
// any bulk transfer the admin's client cannot keep up with), so the read
// size sets how many extra packets go to the target; 32 KiB reads made
// that 15% of the bastion's CPU during bulk output, 64 KiB 9%.
const (
	copySmall = 2 << 10
	copyLarge = 64 << 10
)

var copyPool = sync.Pool{New: func() any { b := make([]byte, copyLarge); return &b }}

// copyTapped is io.Copy from src to dst that hands every chunk to tap
// before it writes it, with the buffer policy above. A read error other
// than io.EOF and any write error are returned.
//
// Tapping first is what makes a recording causal: a byte reaches the
// recorder before the peer can act on it, so anything the peer sends in
// answer is recorded after it (an "i" event before its echo, an SFTP
// server's VERSION before the client's next request, which the recorder's
// sftp watch relies on), and under fail-closed a byte the recording
// refuses has not reached the target. The cost: a chunk whose write fails
// (the peer is gone) is recorded and counted although it was not
// delivered.
func copyTapped(dst io.Writer, src io.Reader, tap func([]byte)) (int64, error) {
	small := make([]byte, copySmall)
	var large *[]byte
	defer func() {
		if large != nil {
			copyPool.Put(large)
		}
	}()
	var written int64
	for {
		buf := small
		if large != nil {
			buf = *large
		}
		n, rerr := src.Read(buf)
		if n > 0 {
			tap(buf[:n])
			w, werr := dst.Write(buf[:n])
			written += int64(w)
			if werr == nil && w < n {
				werr = io.ErrShortWrite
			}
			if werr != nil {
				return written, werr
			}
		}
		if rerr != nil {
			if rerr == io.EOF {
				return written, nil
			}
			return written, rerr
		}
		switch {
		case large == nil && n == len(small):
			large = copyPool.Get().(*[]byte)
		case large != nil && n < len(small):
			copyPool.Put(large)
			large = nil
		}
	}
}
