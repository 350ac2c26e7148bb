package recorder

import (
	"bytes"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jumpcast/jumpcast/recorder/asciicast"
)

// queueDepth bounds the events queued for a session's worker. Queuing
// blocks when it is full: a recording that cannot keep up slows the
// session down (backpressure to the admin) rather than dropping bytes or
// growing without bound. With 32 KiB reads this is at most 256 KiB in
// flight per session.
const queueDepth = 8

// queue hands a Session's events to the goroutine that writes them, in the
// order they were pushed, and holds no goroutine while it is empty: a push
// starts a worker when none runs, and the worker exits when it finds
// nothing left.
//
// The following are called in order:
//   - newQueue, with the function that applies one item;
//   - push and inline, from any goroutines (the session's copiers and
//     request loop), any number of times;
//   - stop, once (Session.Close). It waits for the pushes in progress and
//     for every pushed item to be applied; after it, push returns
//     asciicast.ErrClosed and inline false.
//
// The right to call apply is the worker role: whoever flips running from
// false to true holds it (a worker goroutine for as long as it drains, or
// inline for one item) until it stores false. Only its holder calls
// apply, so items are applied one at a time, in channel order, and what
// apply touches needs no lock of its own.
type queue struct {
	apply func(item) // called by the worker role's holder only

	ch      chan item      // pushed items not yet applied; capacity queueDepth
	mu      sync.RWMutex   // guards stopped: read-held by push and inline, write-held by stop
	stopped bool           // stop has begun: nothing more is pushed
	running atomic.Bool    // the worker role is taken
	worker  sync.WaitGroup // the worker goroutine, while one runs; stop waits for it
}

func newQueue(apply func(item)) *queue {
	return &queue{apply: apply, ch: make(chan item, queueDepth)}
}

// push queues it and starts a worker if none runs. It blocks while the
// queue is full. After stop it releases it and returns
// asciicast.ErrClosed.
func (q *queue) push(it item) error {
	q.mu.RLock()
	defer q.mu.RUnlock()
	if q.stopped {
		release(it)
		return asciicast.ErrClosed
	}
	q.ch <- it
	q.startWorker()
	return nil
}

// inline applies it on the calling goroutine, and reports true, when no
// worker runs and nothing is queued; otherwise (and after stop) the caller
// pushes it. It is for items that cost less to apply than waking a worker
// (a binary count: an addition under the Writer's lock, no encoding, no
// I/O, for every 32 KiB of an scp or tar stream). Order is kept: inline
// holds the worker role while it applies.
func (q *queue) inline(it item) bool {
	q.mu.RLock()
	defer q.mu.RUnlock()
	if q.stopped || len(q.ch) > 0 || !q.running.CompareAndSwap(false, true) {
		return false
	}
	done := false
	if len(q.ch) == 0 { // a push may have come between the check and the swap
		q.apply(it)
		done = true
	}
	q.running.Store(false)
	if len(q.ch) > 0 {
		q.startWorker() // a push that found the role taken left its item to us
	}
	return done
}

// tryPush is push for a caller that must not wait, nor start a goroutine
// (whose wake-up would delay what the caller does next): it queues it and
// reports true when that needs no waiting, and reports false, leaving it
// to the caller, when the queue is full or being stopped. The caller then
// calls applyHere; until it does, a concurrent push's worker or stop
// applies the item.
func (q *queue) tryPush(it item) bool {
	if !q.mu.TryRLock() {
		return false
	}
	defer q.mu.RUnlock()
	if q.stopped {
		return false
	}
	select {
	case q.ch <- it:
		return true
	default:
		return false
	}
}

// applyHere applies the queued items on the calling goroutine unless a
// worker holds the role (it applies them), or stop has begun (it does).
func (q *queue) applyHere() {
	if !q.mu.TryRLock() {
		return
	}
	defer q.mu.RUnlock()
	if !q.stopped && q.running.CompareAndSwap(false, true) {
		q.applyAll()
	}
}

// startWorker takes the worker role for a new worker goroutine, unless
// someone holds it already.
func (q *queue) startWorker() {
	if q.running.CompareAndSwap(false, true) {
		q.worker.Add(1)
		go q.drain() // owner: the queue; exits when ch is empty, stop waits for it
	}
}

// drain is the worker: it applies the queued items and exits.
func (q *queue) drain() {
	defer q.worker.Done()
	q.applyAll()
}

// applyAll is run by the worker role's holder: it applies queued items in
// order until the queue is empty, then gives the role back. The recheck
// after giving it back closes the race with a concurrent push: either that
// push starts a new worker or this holder takes the role again and
// continues.
func (q *queue) applyAll() {
	for {
		select {
		case it := <-q.ch:
			q.apply(it)
		default:
			q.running.Store(false)
			if len(q.ch) == 0 || !q.running.CompareAndSwap(false, true) {
				return
			}
		}
	}
}

// stop stops queuing and returns once every pushed item is applied.
// Pushes already in progress (holding mu for reading, perhaps blocked on a
// full queue the worker is draining) finish first.
func (q *queue) stop() {
	q.mu.Lock()
	q.stopped = true
	q.mu.Unlock()
	q.worker.Wait()
	for len(q.ch) > 0 { // items tryPush queued and no applyHere took
		q.apply(<-q.ch)
	}
}

// Pooled buffer sizes: keystrokes and prompts fit the small one, a
// terminal's reads (up to 4 KiB) and io.Copy's 32 KiB the large one, the
// proxy's bulk reads (proxy.copyLarge, 64 KiB) the full one. Longer chunks
// get a buffer of their own. Without the full size every bulk read was a
// fresh 64 KiB on the heap: 514 MB allocated for 512 MB relayed, and the
// collections that brought emptied the SSH packet and compressor pools
// too (bench, PTY text with recording: 17.4 s of CPU per GB).
const (
	smallBuf = 512
	largeBuf = 32 << 10
	fullBuf  = 64 << 10
)

var (
	smallPool = sync.Pool{New: func() any { b := make([]byte, smallBuf); return &b }}
	largePool = sync.Pool{New: func() any { b := make([]byte, largeBuf); return &b }}
	fullPool  = sync.Pool{New: func() any { b := make([]byte, fullBuf); return &b }}
)

// op is what a queued item asks of the worker.
type op uint8

const (
	opOutput op = iota // data on the output stream
	opInput            // data on the input stream ("i" events)
	opBinary           // n bytes of binary output (contains NUL), not copied
	opMarker           // an "m" event with label
	opResize           // a window change to w×h
)

// item is one queued event: its time was taken when the bytes passed.
type item struct {
	op    op
	at    time.Duration
	data  []byte  // the bytes, in buf
	buf   *[]byte // pooled buffer to return, or nil
	n     int     // opBinary: byte count
	w, h  int     // opResize
	label string  // opMarker
}

// dataItem is an item of op o at time at holding a copy of p, in a
// pooled buffer when one fits.
func dataItem(o op, at time.Duration, p []byte) item {
	it := item{op: o, at: at}
	switch {
	case len(p) <= smallBuf:
		it.buf = smallPool.Get().(*[]byte)
	case len(p) <= largeBuf:
		it.buf = largePool.Get().(*[]byte)
	case len(p) <= fullBuf:
		it.buf = fullPool.Get().(*[]byte)
	}
	if it.buf != nil {
		it.data = (*it.buf)[:copy(*it.buf, p)]
	} else {
		it.data = bytes.Clone(p)
	}
	return it
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
	case fullBuf:
		fullPool.Put(it.buf)
	}
}
