package replayweb

import (
	"bufio"
	"fmt"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/jumpcast/jumpcast/store"
)

// keepAlive is how often an idle live stream sends an SSE comment, so that
// proxies and browsers do not drop a quiet session.
const keepAlive = 15 * time.Second

// liveFeed is one subscriber's view of an active session, as JSON lines:
// the v2 header, the events so far, then events as they happen. Events is
// closed when the session ends.
type liveFeed struct {
	Header  []byte
	Backlog [][]byte
	Events  <-chan []byte
	Close   func()
}

func (s *Server) isLive(id string) bool { return s.activeSet()[id] }

// activeSet is the set of session ids the live source is fanning out now.
func (s *Server) activeSet() map[string]bool {
	m := map[string]bool{}
	if s.live == nil {
		return m
	}
	for _, id := range s.live.Active() {
		m[id] = true
	}
	return m
}

// liveEvents streams an active session to the player's eventsource driver
// as Server-Sent Events: one "data:" line with the asciicast v2 header, one
// per v2 event array (unchanged), and a named "done" event when the session
// ends. A session that has already ended gets "done" at once, and the page
// reloads into the recording.
func (s *Server) liveEvents(c echo.Context) error {
	rec, err := s.recordingFor(c)
	if err != nil {
		return err
	}
	feed, ok := s.subscribe(rec.ID)
	w := c.Response()
	w.Header().Set(echo.HeaderContentType, "text/event-stream")
	w.Header().Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	if !ok {
		w.WriteHeader(http.StatusOK)
		_, err := fmt.Fprint(w, "event: done\ndata: ended\n\n")
		return err
	}
	defer feed.Close()
	if err := s.auditRecording(c, "playback", rec, map[string]string{"via": "web", "live": "true"}); err != nil {
		return err
	}
	// The http.Server's WriteTimeout would cut a long session; this response
	// lives as long as the session or the browser.
	_ = http.NewResponseController(w).SetWriteDeadline(time.Time{})
	w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriter(w)
	send := func(line []byte) error {
		if _, err := bw.WriteString("data: "); err != nil {
			return err
		}
		if _, err := bw.Write(line); err != nil {
			return err
		}
		_, err := bw.WriteString("\n\n")
		return err
	}
	flush := func() error {
		if err := bw.Flush(); err != nil {
			return err
		}
		w.Flush()
		return nil
	}
	if err := send(feed.Header); err != nil {
		return nil // the browser went away
	}
	for _, ev := range feed.Backlog {
		if err := send(ev); err != nil {
			return nil
		}
	}
	if err := flush(); err != nil {
		return nil
	}
	return s.pumpLive(c, rec, feed, bw, send, flush)
}

// pumpLive forwards live events until the session ends (Events closed) or
// the browser leaves (request context done). It runs on the request's
// goroutine; it starts none.
func (s *Server) pumpLive(c echo.Context, rec *store.Recording, feed liveFeed, bw *bufio.Writer, send func([]byte) error, flush func() error) error {
	tick := time.NewTicker(keepAlive)
	defer tick.Stop()
	ctx := c.Request().Context()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			if _, err := bw.WriteString(": keep-alive\n\n"); err != nil {
				return nil
			}
			if err := flush(); err != nil {
				return nil
			}
		case ev, ok := <-feed.Events:
			if !ok {
				if _, err := bw.WriteString("event: done\ndata: ended\n\n"); err != nil {
					return nil
				}
				_ = flush()
				s.log.Debug("live view ended", "session_id", rec.ID)
				return nil
			}
			if err := send(ev); err != nil {
				return nil
			}
			// Send what has queued up in one write before flushing.
			for drained := false; !drained; {
				select {
				case ev, ok := <-feed.Events:
					if !ok {
						drained = true
						break
					}
					if err := send(ev); err != nil {
						return nil
					}
				default:
					drained = true
				}
			}
			if err := flush(); err != nil {
				return nil
			}
		}
	}
}
