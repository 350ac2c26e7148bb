package replayweb

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/jumpcast/jumpcast/internal/audit"
	"github.com/jumpcast/jumpcast/internal/recording"
	"github.com/jumpcast/jumpcast/recorder"
)

// keepAlive is how often an idle live stream sends an SSE comment, so that
// proxies and browsers do not drop a quiet session.
const keepAlive = 15 * time.Second

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

// sseWriter writes Server-Sent Events through a buffer; flush sends them.
type sseWriter struct {
	w  *echo.Response
	bw *bufio.Writer
}

func (sw *sseWriter) data(line []byte) error {
	if _, err := sw.bw.WriteString("data: "); err != nil {
		return err
	}
	if _, err := sw.bw.Write(line); err != nil {
		return err
	}
	_, err := sw.bw.WriteString("\n\n")
	return err
}

func (sw *sseWriter) raw(s string) error {
	_, err := sw.bw.WriteString(s)
	return err
}

func (sw *sseWriter) flush() error {
	if err := sw.bw.Flush(); err != nil {
		return err
	}
	sw.w.Flush()
	return nil
}

// endOfStream is the named event after which the player's eventsource
// driver closes the connection and shows "Stream ended".
const endOfStream = "event: done\ndata: ended\n\n"

// liveEvents streams an active session to the player's eventsource driver
// as Server-Sent Events: one "data:" line with the asciicast v2 header, then
// one per v2 event array, unchanged (everything so far, then live), and a
// named "done" event when the session ends. A session that is not live
// gets "done" at once. A watcher that fell too far behind is disconnected
// without "done": the browser's EventSource reconnects and the player
// starts again from a fresh header.
func (s *Server) liveEvents(c echo.Context) error {
	rec, err := s.recordingFor(c)
	if err != nil {
		return err
	}
	w := c.Response()
	w.Header().Set(echo.HeaderContentType, "text/event-stream")
	w.Header().Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	var sub *recorder.Subscription
	ok := false
	if s.live != nil {
		sub, ok = s.live.Subscribe(rec.ID)
	}
	if !ok {
		w.WriteHeader(http.StatusOK)
		_, err := fmt.Fprint(w, endOfStream)
		return err
	}
	defer sub.Close()
	if err := s.auditRecording(c, rec, audit.KindPlayback, "web", true); err != nil {
		return err
	}
	hdr, err := json.Marshal(sub.Header)
	if err != nil {
		return fmt.Errorf("encode live header %s: %w", rec.ID, err)
	}
	// The http.Server's WriteTimeout would cut a long session; this response
	// lives as long as the session or the browser.
	_ = http.NewResponseController(w).SetWriteDeadline(time.Time{})
	w.WriteHeader(http.StatusOK)
	sw := &sseWriter{w: w, bw: bufio.NewWriter(w)}
	if sw.data(hdr) != nil || sw.flush() != nil {
		return nil // the browser went away
	}
	s.pumpLive(c, rec, sub, sw)
	return nil
}

// pumpLive forwards events until the session ends (Events closed) or the
// browser leaves (request context done). It runs on the request's
// goroutine and starts none.
func (s *Server) pumpLive(c echo.Context, rec *recording.Meta, sub *recorder.Subscription, sw *sseWriter) {
	tick := time.NewTicker(keepAlive)
	defer tick.Stop()
	ctx := c.Request().Context()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if sw.raw(": keep-alive\n\n") != nil || sw.flush() != nil {
				return
			}
		case ev, ok := <-sub.Events:
			if !ok {
				s.endLive(rec, sub, sw)
				return
			}
			// Send what has queued up in one write before flushing.
			for more := true; more && ok; {
				line, err := json.Marshal(ev)
				if err != nil {
					s.log.Error("encode live event", "err", err, "session_id", rec.ID)
					return
				}
				if sw.data(line) != nil {
					return
				}
				select {
				case ev, ok = <-sub.Events:
				default:
					more = false
				}
			}
			if sw.flush() != nil {
				return
			}
			if !ok {
				s.endLive(rec, sub, sw)
				return
			}
		}
	}
}

// endLive finishes the stream after Events closed: "done" when the session
// ended (or the live view failed), nothing when this watcher was dropped for
// being slow (its browser reconnects and starts over).
func (s *Server) endLive(rec *recording.Meta, sub *recorder.Subscription, sw *sseWriter) {
	if err := sub.Err(); errors.Is(err, recorder.ErrSlowWatcher) {
		s.log.Info("live view dropped a slow watcher; the browser reconnects", "session_id", rec.ID)
		return
	} else if err != nil {
		s.log.Warn("live view stopped", "session_id", rec.ID, "err", err)
	}
	if sw.raw(endOfStream) == nil {
		_ = sw.flush()
	}
	s.log.Debug("live view ended with the session", "session_id", rec.ID)
}
