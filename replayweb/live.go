package replayweb

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
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

// isLive says whether rec can be watched live: running here, or running
// on another node this site reaches (Options.Remote).
func (s *Server) isLive(rec *recording.Meta) bool {
	return rec.Status == recording.StatusActive && (s.remoteNode(rec) != "" || s.activeSet()[rec.ID])
}

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
	w  http.ResponseWriter
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
	return http.NewResponseController(sw.w).Flush()
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
	if node := s.remoteNode(rec); node != "" {
		return s.liveRemote(c, rec, node)
	}
	var live LiveSource = noLive{}
	if s.live != nil {
		live = s.live
	}
	return serveLive(c.Response(), c.Request(), live, rec.ID, s.log, func() error {
		return s.auditRecording(c, rec, audit.KindPlayback, "web", true)
	})
}

// ServeLive streams the running session id of live to w as the site's
// live view does (header, events so far, live events, "done" at the end;
// "done" at once when id is not live). It is for another node asking on
// behalf of its browser (cmd/jumpcast's internal listener): the caller
// has authenticated the request, and the asking node audits the playback.
// A nil live has nothing live.
func ServeLive(w http.ResponseWriter, r *http.Request, live LiveSource, id string, log *slog.Logger) {
	if live == nil {
		live = noLive{}
	}
	_ = serveLive(w, r, live, id, log, nil)
}

// noLive is a LiveSource with nothing live.
type noLive struct{}

func (noLive) Active() []string                                { return nil }
func (noLive) Subscribe(string) (*recorder.Subscription, bool) { return nil, false }

// serveLive is liveEvents' stream; started (when set) is called once the
// session is found live, before the first byte (the playback's audit
// event), and its error refuses the stream.
func serveLive(w http.ResponseWriter, r *http.Request, live LiveSource, id string, log *slog.Logger, started func() error) error {
	w.Header().Set(echo.HeaderContentType, "text/event-stream")
	w.Header().Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	sub, ok := live.Subscribe(id)
	if !ok {
		w.WriteHeader(http.StatusOK)
		_, err := fmt.Fprint(w, endOfStream)
		return err
	}
	defer sub.Close()
	if started != nil {
		if err := started(); err != nil {
			return err
		}
	}
	hdr, err := json.Marshal(sub.Header)
	if err != nil {
		return fmt.Errorf("encode live header %s: %w", id, err)
	}
	// The http.Server's WriteTimeout would cut a long session; this response
	// lives as long as the session or the browser.
	_ = http.NewResponseController(w).SetWriteDeadline(time.Time{})
	w.WriteHeader(http.StatusOK)
	sw := &sseWriter{w: w, bw: bufio.NewWriter(w)}
	if sw.data(hdr) != nil || sw.flush() != nil {
		return nil // the browser went away
	}
	pumpLive(r.Context(), id, sub, sw, log)
	return nil
}

// pumpLive forwards events until the session ends (Events closed) or the
// browser leaves (ctx done). It runs on the request's goroutine and
// starts none.
func pumpLive(ctx context.Context, id string, sub *recorder.Subscription, sw *sseWriter, log *slog.Logger) {
	tick := time.NewTicker(keepAlive)
	defer tick.Stop()
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
				endLive(id, sub, sw, log)
				return
			}
			// Send what has queued up in one write before flushing.
			for more := true; more && ok; {
				line, err := json.Marshal(ev)
				if err != nil {
					log.Error("encode live event", "err", err, "session_id", id)
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
				endLive(id, sub, sw, log)
				return
			}
		}
	}
}

// endLive finishes the stream after Events closed: "done" when the session
// ended (or the live view failed), nothing when this watcher was dropped for
// being slow (its browser reconnects and starts over).
func endLive(id string, sub *recorder.Subscription, sw *sseWriter, log *slog.Logger) {
	if err := sub.Err(); errors.Is(err, recorder.ErrSlowWatcher) {
		log.Info("live view dropped a slow watcher; the browser reconnects", "session_id", id)
		return
	} else if err != nil {
		log.Warn("live view stopped", "session_id", id, "err", err)
	}
	if sw.raw(endOfStream) == nil {
		_ = sw.flush()
	}
	log.Debug("live view ended with the session", "session_id", id)
}
