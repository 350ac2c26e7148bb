package recorder

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"

	"github.com/jumpcast/jumpcast/recorder/asciicast"
)

// DefaultHubBuffer is how many live events a watcher may fall behind
// before it is disconnected with ErrSlowWatcher.
const DefaultHubBuffer = 4096

// ErrSlowWatcher is a Subscription's error when it fell more than the
// Hub's buffer behind: it was disconnected so the session never waits.
var ErrSlowWatcher = errors.New("watcher too slow: disconnected")

// ErrAlreadyLive is returned by Publish for an id that is already live.
var ErrAlreadyLive = errors.New("session already live")

// Source is what a live session offers the Hub so that a watcher joining
// mid-session gets everything so far. Snapshot must call attach exactly
// once while no event can be published, and return a reader of the
// recording's bytes as of that moment: the header line followed by every
// event published before attach. (*asciicast.Writer).Snapshot makes this easy.
type Source interface {
	Snapshot(attach func()) (io.ReadCloser, error)
}

// HubOptions tune a Hub. The zero value is the default.
type HubOptions struct {
	// Buffer is how many live events each watcher may fall behind before
	// it is disconnected; 0 means DefaultHubBuffer.
	Buffer int
}

// Hub fans live sessions out to watchers. Publishers never block on a
// watcher. Safe for concurrent use.
type Hub struct {
	buffer int

	mu    sync.Mutex // guards feeds
	feeds map[string]*Feed
}

// NewHub returns a Hub with default options.
func NewHub() *Hub { return NewHubWith(HubOptions{}) }

// NewHubWith returns a Hub with options o.
func NewHubWith(o HubOptions) *Hub {
	if o.Buffer <= 0 {
		o.Buffer = DefaultHubBuffer
	}
	return &Hub{buffer: o.Buffer, feeds: make(map[string]*Feed)}
}

// Feed is the publishing side of one live session.
type Feed struct {
	hub *Hub
	id  string
	src Source

	mu    sync.Mutex // guards subs and ended; Send and End hold it
	subs  map[*Subscription]struct{}
	ended bool
}

// Publish makes session id live. The caller must call End when the
// session ends.
func (h *Hub) Publish(id string, src Source) (*Feed, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.feeds[id]; ok {
		return nil, fmt.Errorf("publish %s: %w", id, ErrAlreadyLive)
	}
	f := &Feed{hub: h, id: id, src: src, subs: make(map[*Subscription]struct{})}
	h.feeds[id] = f
	return f, nil
}

// Active returns the ids of the live sessions, sorted (oldest first, as
// ids are time-ordered).
func (h *Hub) Active() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	ids := make([]string, 0, len(h.feeds))
	for id := range h.feeds {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// Send delivers ev to every watcher without blocking: a watcher whose
// buffer is full is disconnected with ErrSlowWatcher. Events must be sent
// in recording order, in step with the Source (see Source). Send keeps a
// copy of ev.Data (made only when someone watches), so the caller may
// reuse its memory when Send returns (see asciicast.WriterOptions.OnEvent).
func (f *Feed) Send(ev asciicast.Event) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ended || len(f.subs) == 0 {
		return
	}
	ev.Data = strings.Clone(ev.Data)
	for s := range f.subs {
		select {
		case s.live <- ev:
		default:
			delete(f.subs, s)
			s.kick(ErrSlowWatcher)
		}
	}
}

// End marks the session finished: it is no longer live, and watchers get
// end-of-stream after the events already queued for them. Idempotent.
func (f *Feed) End() {
	f.hub.mu.Lock()
	if f.hub.feeds[f.id] == f {
		delete(f.hub.feeds, f.id)
	}
	f.hub.mu.Unlock()

	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ended {
		return
	}
	f.ended = true
	for s := range f.subs {
		close(s.live)
		delete(f.subs, s)
	}
}

// attach registers s, or reports that the session has already ended.
func (f *Feed) attach(s *Subscription) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ended {
		close(s.live)
		return
	}
	f.subs[s] = struct{}{}
}

func (f *Feed) detach(s *Subscription) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.subs, s)
}
