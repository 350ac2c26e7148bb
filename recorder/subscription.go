package recorder

import (
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/jumpcast/jumpcast/recorder/asciicast"
)

// Subscription is one watcher of a live session. Events yields the whole
// session: first every event recorded before the watcher joined, then live
// events, with no gap and no duplicate. Events is closed at the end of the
// session, when the watcher fell too far behind, or after Close; Err tells
// which. The caller must call Close.
type Subscription struct {
	Header asciicast.Header
	Events <-chan asciicast.Event

	feed      *feed
	events    chan asciicast.Event // Events; closed by the forwarder
	live      chan asciicast.Event // bounded; sent by feed.Send, closed by feed.End
	kicked    chan struct{}        // closed when disconnected for slowness
	done      chan struct{}        // closed by Close
	exited    chan struct{}        // closed when the forwarder returns
	once      sync.Once            // guards close(done)
	mu        sync.Mutex           // guards err and wasKicked
	err       error
	wasKicked bool
}

// Subscribe joins live session id. It returns false when id is not live.
// When the recording so far cannot be read, the Subscription's Events is
// already closed and Err says why.
func (h *Hub) Subscribe(id string) (*Subscription, bool) {
	h.mu.Lock()
	f := h.feeds[id]
	h.mu.Unlock()
	if f == nil {
		return nil, false
	}
	s := &Subscription{
		feed:   f,
		events: make(chan asciicast.Event),
		live:   make(chan asciicast.Event, h.buffer),
		kicked: make(chan struct{}),
		done:   make(chan struct{}),
		exited: make(chan struct{}),
	}
	s.Events = s.events
	attached := false
	rc, err := f.src.snapshot(func() { attached = true; f.attach(s) })
	if err == nil && !attached {
		err = errors.New("live source did not attach the watcher")
	}
	var rd *asciicast.Reader
	if err == nil {
		rd, err = asciicast.NewReader(rc)
	}
	if err != nil {
		if rc != nil {
			_ = rc.Close()
		}
		f.detach(s)
		s.setErr(fmt.Errorf("read live session %s so far: %w", id, err))
		close(s.events)
		close(s.exited)
		return s, true
	}
	s.Header = rd.Header()
	go s.forward(rd, rc) // owned by the Subscription; ends by Close, session end or kick
	return s, true
}

// Err returns nil after a normal end of session, ErrSlowWatcher after a
// disconnection, or the error that stopped the backlog.
func (s *Subscription) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Close leaves the session and waits for the subscription's goroutine.
// Idempotent.
func (s *Subscription) Close() {
	s.once.Do(func() { close(s.done) })
	<-s.exited
	s.feed.detach(s)
}

func (s *Subscription) setErr(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err == nil {
		s.err = err
	}
}

// kick disconnects a slow watcher. Called with the feed's lock held.
func (s *Subscription) kick(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.wasKicked {
		return
	}
	s.wasKicked = true
	if s.err == nil {
		s.err = err
	}
	close(s.kicked)
}

// forward sends the backlog, then live events, to s.events.
func (s *Subscription) forward(rd *asciicast.Reader, rc io.Closer) {
	defer close(s.exited)
	defer close(s.events)
	closed := false
	closeBacklog := func() {
		if !closed {
			closed = true
			_ = rc.Close()
		}
	}
	defer closeBacklog()
	for {
		ev, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			s.setErr(fmt.Errorf("read live session so far: %w", err))
			return
		}
		if !s.send(ev) {
			return
		}
	}
	closeBacklog() // the live part may last hours: release the file now
	for {
		select {
		case ev, ok := <-s.live:
			if !ok {
				return
			}
			if !s.send(ev) {
				return
			}
		case <-s.kicked:
			return
		case <-s.done:
			return
		}
	}
}

func (s *Subscription) send(ev asciicast.Event) bool {
	select {
	case s.events <- ev:
		return true
	case <-s.kicked:
		return false
	case <-s.done:
		return false
	}
}
