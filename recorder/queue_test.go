package recorder

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/jumpcast/jumpcast/recorder/asciicast"
)

// applied records what a queue applied, and checks that apply never runs
// twice at once. Items are numbered in n; w names the pusher.
type applied struct {
	busy atomic.Int32
	mu   sync.Mutex // guards got
	got  []item
	t    *testing.T
	hold chan struct{} // when set, apply waits on it for the first item
	in   chan struct{} // closed when apply has the first item
	once sync.Once
}

func newApplied(t *testing.T, held bool) *applied {
	a := &applied{t: t, in: make(chan struct{})}
	if held {
		a.hold = make(chan struct{})
	}
	return a
}

func (a *applied) apply(it item) {
	if a.busy.Add(1) != 1 {
		a.t.Errorf("apply runs twice at once")
	}
	defer a.busy.Add(-1)
	a.once.Do(func() {
		close(a.in)
		if a.hold != nil {
			<-a.hold
		}
	})
	a.mu.Lock()
	a.got = append(a.got, it)
	a.mu.Unlock()
}

func (a *applied) items() []item {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]item(nil), a.got...)
}

// TestQueueKeepsEachPushersOrder: items pushed from several goroutines are
// all applied, one at a time, each pusher's in the order it pushed them,
// and stop returns only once the last is applied.
func TestQueueKeepsEachPushersOrder(t *testing.T) {
	a := newApplied(t, false)
	q := newQueue(a.apply)
	const pushers, each = 4, 500
	var wg sync.WaitGroup
	for p := range pushers {
		wg.Go(func() { // owner: the test; ends after its last push
			for i := range each {
				if err := q.push(item{w: p, n: i}); err != nil {
					t.Errorf("push: %v", err)
				}
			}
		})
	}
	wg.Wait()
	q.stop()
	got := a.items()
	if len(got) != pushers*each {
		t.Fatalf("%d items applied, want %d", len(got), pushers*each)
	}
	next := make([]int, pushers)
	for _, it := range got {
		if it.n != next[it.w] {
			t.Fatalf("pusher %d: item %d applied when %d was due", it.w, it.n, next[it.w])
		}
		next[it.w]++
	}
}

// TestQueueBackpressure: while the worker is held on one item, queueDepth
// more are taken and the next push waits; released, every item is applied
// in order.
func TestQueueBackpressure(t *testing.T) {
	a := newApplied(t, true)
	q := newQueue(a.apply)
	if err := q.push(item{n: 0}); err != nil {
		t.Fatal(err)
	}
	<-a.in // the worker holds item 0
	for i := 1; i <= queueDepth; i++ {
		if err := q.push(item{n: i}); err != nil {
			t.Fatal(err)
		}
	}
	pushed := make(chan error, 1)
	go func() { pushed <- q.push(item{n: queueDepth + 1}) }() // owner: the test; ends when the push returns
	select {
	case err := <-pushed:
		t.Fatalf("push into a full queue returned at once (%v)", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(a.hold)
	if err := <-pushed; err != nil {
		t.Fatal(err)
	}
	q.stop()
	got := a.items()
	for i, it := range got {
		if it.n != i {
			t.Fatalf("item %d applied at position %d", it.n, i)
		}
	}
	if len(got) != queueDepth+2 {
		t.Errorf("%d items applied, want %d", len(got), queueDepth+2)
	}
}

// TestQueueStop: stop waits for a push blocked on a full queue and for
// every queued item; afterwards push returns asciicast.ErrClosed and
// inline declines, and nothing more is applied.
func TestQueueStop(t *testing.T) {
	a := newApplied(t, true)
	q := newQueue(a.apply)
	for i := 0; i <= queueDepth; i++ {
		if err := q.push(item{n: i}); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			<-a.in
		}
	}
	pushed := make(chan error, 1)
	go func() { pushed <- q.push(item{n: queueDepth + 1}) }() // owner: the test; blocked until the worker drains
	time.Sleep(20 * time.Millisecond)                         // let it block on the full queue
	stopped := make(chan struct{})
	go func() { q.stop(); close(stopped) }() // owner: the test; ends when stop returns
	select {
	case <-stopped:
		t.Fatal("stop returned while items were queued")
	case <-time.After(50 * time.Millisecond):
	}
	close(a.hold)
	<-stopped
	if err := <-pushed; err != nil {
		t.Errorf("push in progress at stop: %v", err)
	}
	if n := len(a.items()); n != queueDepth+2 {
		t.Errorf("%d items applied by stop, want %d", n, queueDepth+2)
	}
	if err := q.push(item{n: 99}); !errors.Is(err, asciicast.ErrClosed) {
		t.Errorf("push after stop = %v, want ErrClosed", err)
	}
	if q.inline(item{n: 100}) {
		t.Error("inline after stop applied its item")
	}
	if n := len(a.items()); n != queueDepth+2 {
		t.Errorf("%d items applied after stop, want %d", n, queueDepth+2)
	}
}

// TestQueueInline: on an idle queue inline applies the item before it
// returns; while the worker holds items it declines, and the item pushed
// instead comes after them.
func TestQueueInline(t *testing.T) {
	a := newApplied(t, false)
	q := newQueue(a.apply)
	if !q.inline(item{n: 0}) {
		t.Fatal("inline on an idle queue declined")
	}
	if got := a.items(); len(got) != 1 || got[0].n != 0 {
		t.Fatalf("after inline: %+v", got)
	}

	b := newApplied(t, true)
	q = newQueue(b.apply)
	if err := q.push(item{n: 0}); err != nil {
		t.Fatal(err)
	}
	<-b.in
	if err := q.push(item{n: 1}); err != nil {
		t.Fatal(err)
	}
	if q.inline(item{n: 2}) {
		t.Fatal("inline while the worker holds items applied its item")
	}
	if err := q.push(item{n: 2}); err != nil {
		t.Fatal(err)
	}
	close(b.hold)
	q.stop()
	got := b.items()
	if len(got) != 3 || got[0].n != 0 || got[1].n != 1 || got[2].n != 2 {
		t.Errorf("applied %+v, want items 0, 1, 2 in order", got)
	}
}

// TestQueueIdleHoldsNoGoroutine: once the queue is empty its worker exits;
// the next push starts another.
func TestQueueIdleHoldsNoGoroutine(t *testing.T) {
	before := goleak.IgnoreCurrent()
	a := newApplied(t, false)
	q := newQueue(a.apply)
	for round := range 2 {
		for i := range 3 * queueDepth {
			if err := q.push(item{n: i}); err != nil {
				t.Fatal(err)
			}
		}
		goleak.VerifyNone(t, before) // retries until the worker has exited
		if n := len(a.items()); n != (round+1)*3*queueDepth {
			t.Fatalf("round %d: %d items applied", round, n)
		}
	}
	q.stop()
}
