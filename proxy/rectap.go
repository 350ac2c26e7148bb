package proxy

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jumpcast/jumpcast/recorder"
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
		n.NotifyFailure(t.fail)
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

func (t *recTap) resize(w, h int) {
	if sr := t.active(); sr != nil {
		if err := sr.Resize(w, h); err != nil {
			t.fail(err)
		}
	}
}

// close finalizes the recording, once, with a fresh context (the
// session's may be cancelled). It returns the recorder's error.
func (t *recTap) close(exit recorder.Exit) error {
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

// tapWriter writes to w and hands what was written to the tap.
type tapWriter struct {
	w   interface{ Write([]byte) (int, error) }
	tap func([]byte)
}

func (tw tapWriter) Write(p []byte) (int, error) {
	n, err := tw.w.Write(p)
	tw.tap(p[:n])
	return n, err
}

// tapReader reads from r and hands what was read to the tap.
type tapReader struct {
	r   interface{ Read([]byte) (int, error) }
	tap func([]byte)
}

func (tr tapReader) Read(p []byte) (int, error) {
	n, err := tr.r.Read(p)
	tr.tap(p[:n])
	return n, err
}
