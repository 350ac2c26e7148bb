package recorder

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jumpcast/jumpcast/recorder/asciicast"
	"github.com/jumpcast/jumpcast/recorder/asciicast/asciicasttest"
)

// memLive is a live session recorded into memory, published on a Hub the
// way the Manager does it (OnEvent → feed.Send, Writer.Snapshot).
type memLive struct {
	mu   sync.Mutex // guards buf
	buf  bytes.Buffer
	w    *asciicast.Writer
	feed *feed
}

func (m *memLive) Write(p []byte) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.buf.Write(p)
}

func (m *memLive) snapshot(attach func()) (io.ReadCloser, error) {
	var snap []byte
	err := m.w.Snapshot(func(off int64) {
		attach()
		m.mu.Lock()
		snap = append([]byte(nil), m.buf.Bytes()[:off]...)
		m.mu.Unlock()
	})
	return io.NopCloser(bytes.NewReader(snap)), err
}

func newMemLive(t *testing.T, h *Hub, id string) *memLive {
	t.Helper()
	m := &memLive{}
	w, err := asciicast.NewWriter(m, asciicast.Header{Title: id}, asciicast.WriterOptions{
		FlushInterval: 5 * time.Millisecond,
		OnEvent:       func(ev asciicast.Event) { m.feed.Send(ev) },
	})
	if err != nil {
		t.Fatal(err)
	}
	m.w = w
	if m.feed, err = h.publish(id, m); err != nil {
		t.Fatal(err)
	}
	return m
}

func (m *memLive) end(t *testing.T) {
	t.Helper()
	if err := m.w.Close(asciicast.Exit{HasStatus: true}); err != nil {
		t.Error(err)
	}
	m.feed.End()
}

// collect reads a subscription to its end.
func collect(sub *Subscription) []asciicast.Event {
	var evs []asciicast.Event
	for ev := range sub.Events {
		evs = append(evs, ev)
	}
	return evs
}

// TestHubLateJoinersSeeEverythingOnce: watchers joining before, during and
// near the end of a session each get the whole session, in order, once.
func TestHubLateJoinersSeeEverythingOnce(t *testing.T) {
	h := NewHub()
	live := newMemLive(t, h, "s1")
	if got := h.Active(); len(got) != 1 || got[0] != "s1" {
		t.Fatalf("Active = %v", got)
	}
	const n = 3000
	var want strings.Builder
	for i := range n {
		fmt.Fprintf(&want, "line %d 日本\r\n", i)
	}
	joinAt := map[int]bool{0: true, 1: true, 500: true, 1234: true, 2999: true}
	var wg sync.WaitGroup
	results := make(chan string, len(joinAt))
	for i := range n {
		if joinAt[i] {
			sub, ok := h.Subscribe("s1")
			if !ok {
				t.Fatal("Subscribe: not live")
			}
			wg.Go(func() {
				defer sub.Close()
				evs := collect(sub)
				if sub.Err() != nil {
					t.Errorf("subscriber error: %v", sub.Err())
				}
				if sub.Header.Title != "s1" {
					t.Errorf("subscriber header %+v", sub.Header)
				}
				results <- asciicasttest.Joined(evs, asciicast.CodeOutput)
			})
		}
		if err := live.w.Output(fmt.Appendf(nil, "line %d 日本\r\n", i)); err != nil {
			t.Fatal(err)
		}
	}
	live.end(t)
	wg.Wait()
	close(results)
	for got := range results {
		if got != want.String() {
			t.Errorf("a watcher saw %d bytes, want %d (gap or duplicate)", len(got), want.Len())
		}
	}
	if _, ok := h.Subscribe("s1"); ok {
		t.Error("Subscribe after the end: still live")
	}
	if got := h.Active(); len(got) != 0 {
		t.Errorf("Active after the end = %v", got)
	}
}

// TestHubSlowWatcherNeverBlocks: a watcher that never reads is
// disconnected; the session and a normal watcher go on unhindered.
func TestHubSlowWatcherNeverBlocks(t *testing.T) {
	h := newHub(16)
	live := newMemLive(t, h, "s2")
	slow, _ := h.Subscribe("s2")
	defer slow.Close()
	fast, _ := h.Subscribe("s2")
	var fastOut strings.Builder
	var seen atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range fast.Events {
			if ev.Code == asciicast.CodeOutput {
				fastOut.WriteString(ev.Data)
			}
			seen.Add(1)
		}
	}()
	start := time.Now()
	const n = 5000
	for i := range n {
		if err := live.w.Output([]byte("x")); err != nil {
			t.Fatal(err)
		}
		// The fast watcher keeps within its buffer: wait for it now and then.
		for i%8 == 7 && seen.Load() < int64(i-7) && time.Since(start) < 5*time.Second {
			time.Sleep(100 * time.Microsecond)
		}
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("writing with a stuck watcher took %v", took)
	}
	live.end(t)
	<-done
	fast.Close()
	if fastOut.String() != strings.Repeat("x", n) {
		t.Errorf("fast watcher saw %d bytes, want %d", fastOut.Len(), n)
	}
	if fast.Err() != nil {
		t.Errorf("fast watcher error %v", fast.Err())
	}
	deadline := time.After(5 * time.Second)
	for range slow.Events {
		select {
		case <-deadline:
			t.Fatal("slow watcher's channel not closed")
		default:
		}
	}
	if !errors.Is(slow.Err(), ErrSlowWatcher) {
		t.Errorf("slow watcher error = %v, want ErrSlowWatcher", slow.Err())
	}
}

func TestHubEdges(t *testing.T) {
	h := NewHub()
	if _, ok := h.Subscribe("nope"); ok {
		t.Error("Subscribe to an unknown id: ok")
	}
	live := newMemLive(t, h, "s3")
	if _, err := h.publish("s3", live); !errors.Is(err, errAlreadyLive) {
		t.Errorf("second publish = %v", err)
	}
	// A watcher that leaves early does not disturb the session.
	sub, _ := h.Subscribe("s3")
	if err := live.w.Output([]byte("a")); err != nil {
		t.Fatal(err)
	}
	if ev := <-sub.Events; ev.Data != "a" {
		t.Errorf("first event %+v", ev)
	}
	sub.Close()
	sub.Close()
	if err := live.w.Output([]byte("b")); err != nil {
		t.Fatal(err)
	}
	live.end(t)
	live.feed.End() // idempotent
}

// brokenSource cannot provide the session so far.
type brokenSource struct{}

func (brokenSource) snapshot(attach func()) (io.ReadCloser, error) {
	return nil, errors.New("disk on fire")
}

func TestHubBrokenSource(t *testing.T) {
	h := NewHub()
	feed, err := h.publish("s4", brokenSource{})
	if err != nil {
		t.Fatal(err)
	}
	defer feed.End()
	sub, ok := h.Subscribe("s4")
	if !ok {
		t.Fatal("not live")
	}
	defer sub.Close()
	if _, open := <-sub.Events; open {
		t.Error("events from a broken source")
	}
	if sub.Err() == nil || !strings.Contains(sub.Err().Error(), "disk on fire") {
		t.Errorf("Err = %v", sub.Err())
	}
	feed.Send(asciicast.Event{Code: "o", Data: "x"}) // no watcher left, must not block
}
