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

// defaultHubBuffer is how many live events a watcher may fall behind
// before it is disconnected with ErrSlowWatcher.
const defaultHubBuffer = 4096

// ErrSlowWatcher is a Subscription's error when it fell more than the
// Hub's buffer behind: it was disconnected so the session never waits.
var ErrSlowWatcher = errors.New("watcher too slow: disconnected")

// errAlreadyLive is returned by publish for an id that is already live.
var errAlreadyLive = errors.New("session already live")

// source is what a live session offers the Hub so that a watcher joining
// mid-session gets everything so far. snapshot must call attach exactly
// once while no event can be published, and return a reader of the
// recording's bytes as of that moment: the header line followed by every
// event published before attach. (*asciicast.Writer).Snapshot makes this
// easy.
type source interface {
	snapshot(attach func()) (io.ReadCloser, error)
}

// Hub fans live sessions out to watchers. Publishers never block on a
// watcher. Safe for concurrent use.
type Hub struct {
	buffer int // live events a watcher may fall behind before it is disconnected

	mu    sync.Mutex // guards feeds
	feeds map[string]*feed
}

// NewHub returns a Hub whose watchers may fall defaultHubBuffer live
// events behind before they are disconnected with ErrSlowWatcher.
func NewHub() *Hub { return newHub(defaultHubBuffer) }

// newHub returns a Hub whose watchers may fall buffer events behind.
func newHub(buffer int) *Hub {
	return &Hub{buffer: buffer, feeds: make(map[string]*feed)}
}

// feed is the publishing side of one live session.
type feed struct {
	hub *Hub
	id  string
	src source

	mu    sync.Mutex // guards subs and ended; Send and End hold it
	subs  map[*Subscription]struct{}
	ended bool
}

// publish makes session id live. The caller must call End when the
// session ends.
func (h *Hub) publish(id string, src source) (*feed, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.feeds[id]; ok {
		return nil, fmt.Errorf("publish %s: %w", id, errAlreadyLive)
	}
	f := &feed{hub: h, id: id, src: src, subs: make(map[*Subscription]struct{})}
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
// in recording order, in step with the source (see source). Send keeps a
// copy of ev.Data (made only when someone watches), so the caller may
// reuse its memory when Send returns (see asciicast.WriterOptions.OnEvent).
func (f *feed) Send(ev asciicast.Event) {
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
func (f *feed) End() {
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
func (f *feed) attach(s *Subscription) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ended {
		close(s.live)
		return
	}
	f.subs[s] = struct{}{}
}

func (f *feed) detach(s *Subscription) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.subs, s)
}
