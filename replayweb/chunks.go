package replayweb

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/jumpcast/jumpcast/internal/audit"
	"github.com/jumpcast/jumpcast/internal/recording"
	"github.com/jumpcast/jumpcast/recorder/asciicast"
	"github.com/jumpcast/jumpcast/recorder/castfile"
)

// The player's routes: GET /recordings/:id/index and GET
// /recordings/:id/chunks/:n. The page reads the index once, then only the
// chunks around the moment it shows, so a recording of any length opens in
// the same time and memory. Both go through recordingFor, like the cast.

// playerIndex is the JSON of GET /recordings/:id/index.
type playerIndex struct {
	Cols     int            `json:"cols"`
	Rows     int            `json:"rows"`
	Title    string         `json:"title,omitempty"`
	Duration float64        `json:"duration"` // seconds
	Live     bool           `json:"live"`     // still being written: the index covers what is on disk now
	Chunks   []playerChunk  `json:"chunks"`
	Markers  []playerMarker `json:"markers"`
}

// playerChunk is one chunk's place on the timeline and its activity.
type playerChunk struct {
	Start  float64 `json:"start"`
	End    float64 `json:"end"`
	Events int     `json:"events"`
	Bytes  int64   `json:"bytes"` // decoded output bytes: the seek bar's activity graph
}

type playerMarker struct {
	At    float64 `json:"at"`
	Label string  `json:"label"`
}

// playerKeyframe is the screen at a chunk's start: Paint, written to a
// freshly reset terminal of Cols×Rows, draws it.
type playerKeyframe struct {
	At    float64 `json:"at"`
	Cols  int     `json:"cols"`
	Rows  int     `json:"rows"`
	Paint string  `json:"paint"`
}

// openReader opens rec's file with castfile (compressed or raw), through
// the cache of open Readers; release gives it back.
func (s *Server) openReader(rec *recording.Meta) (r *castfile.Reader, release func(), err error) {
	rel, err := castPath(rec)
	if err != nil {
		return nil, nil, err
	}
	r, release, err = s.readers.get(s.casts, rel, rec.Status == recording.StatusActive)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, echo.NewHTTPError(http.StatusNotFound, "the recording file is missing (purged?)").SetInternal(err)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("open recording %s: %w", rec.ID, err)
	}
	return r, release, nil
}

// playerIndexOf answers the page's first request: the recording's
// timeline. It is the playback's audit event (one per page view, as the
// whole cast was before), written before anything is read.
func (s *Server) playerIndexOf(c echo.Context) error {
	rec, err := s.recordingFor(c)
	if err != nil {
		return err
	}
	r, release, err := s.openReader(rec)
	if err != nil {
		return err
	}
	defer release()
	if err := s.auditPlayback(c, rec, true); err != nil {
		return err
	}
	ix := r.Index()
	out := playerIndex{
		Cols: ix.Header.Width, Rows: ix.Header.Height, Title: ix.Header.Title, Duration: ix.Duration,
		Live:    rec.Status == recording.StatusActive,
		Chunks:  make([]playerChunk, len(ix.Chunks)),
		Markers: make([]playerMarker, len(ix.Markers)),
	}
	for i, ch := range ix.Chunks {
		out.Chunks[i] = playerChunk{Start: ch.Start, End: ch.End, Events: ch.Events, Bytes: ch.OutBytes}
	}
	for i, m := range ix.Markers {
		out.Markers[i] = playerMarker{At: m.At, Label: m.Label}
	}
	return c.JSON(http.StatusOK, out)
}

// playerChunkOf answers GET /recordings/:id/chunks/:n: chunk n's keyframe
// and its events as asciicast v2 arrays, {"n":N,"keyframe":{...},
// "events":[[t,code,data],...]}, streamed. With ?only=keyframe (the seek
// bar's preview) the events are left out. A bad n is a 404.
func (s *Server) playerChunkOf(c echo.Context) error {
	rec, err := s.recordingFor(c)
	if err != nil {
		return err
	}
	n, err := strconv.Atoi(c.Param("n"))
	if err != nil || n < 0 {
		return echo.NewHTTPError(http.StatusNotFound, "no such chunk")
	}
	r, release, err := s.openReader(rec)
	if err != nil {
		return err
	}
	defer release()
	if n >= len(r.Index().Chunks) {
		return echo.NewHTTPError(http.StatusNotFound, "no such chunk")
	}
	// A page reads the index first, which audited the playback; a client
	// that reads chunks without it is audited here, once.
	if err := s.auditPlayback(c, rec, false); err != nil {
		return err
	}
	kf, err := r.Keyframe(n)
	if err != nil {
		return fmt.Errorf("recording %s: keyframe %d: %w", rec.ID, n, err)
	}
	head, err := json.Marshal(playerKeyframe{At: kf.At, Cols: kf.Cols, Rows: kf.Rows, Paint: kf.Paint})
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderContentType, echo.MIMEApplicationJSON)
	c.Response().WriteHeader(http.StatusOK)
	w := bufio.NewWriterSize(c.Response(), 64<<10)
	fmt.Fprintf(w, `{"n":%d,"keyframe":%s,"events":[`, n, head)
	if c.QueryParam("only") != "keyframe" {
		first := true
		err = r.Events(n, func(ev asciicast.Event) error {
			if !first {
				if err := w.WriteByte(','); err != nil {
					return err
				}
			}
			first = false
			b, _ := ev.MarshalJSON() // never fails
			_, err := w.Write(b)
			return err
		})
		if err != nil {
			// The status is sent: the truncated JSON fails the page's parse,
			// which says so; the log has the cause.
			return fmt.Errorf("recording %s: chunk %d: %w", rec.ID, n, err)
		}
	}
	if _, err := w.WriteString("]}"); err != nil {
		return err
	}
	return w.Flush()
}

// auditPlayback writes the "played" audit event of a page view: always
// when always is set (the index, read once per view), else only when this
// login or token has not played rec before (chunks).
func (s *Server) auditPlayback(c echo.Context, rec *recording.Meta, always bool) error {
	key := seenKey(principalOf(c), "", rec.ID)
	if key != "" && !always && s.played.seen(key, s.now()) {
		return nil
	}
	if err := s.auditRecording(c, rec, audit.KindPlayback, "web", false); err != nil {
		return err
	}
	if key != "" {
		s.played.mark(key, s.now())
	}
	return nil
}

// seenKey names what p did to recording id in the playedSet: what (""
// for a playback, "preview:") + the login or token + "/" + id; "" without
// a principal.
func seenKey(p *principal, what, id string) string {
	if p == nil {
		return ""
	}
	who := p.tokenID
	if p.login != nil {
		who = "login:" + p.login.id
	}
	return what + who + "/" + id
}

// playedTTL is how long a login's playback of a recording counts as
// audited for its chunk requests: a login's lifetime by default.
const playedTTL = 12 * time.Hour

// maxPlayed bounds the table; when full it is emptied (at worst a
// playback is audited twice).
const maxPlayed = 10000

// playedSet remembers which login or token played which recording, so
// that a player's chunk requests add no audit events of their own.
type playedSet struct {
	mu sync.Mutex           // guards m
	m  map[string]time.Time // "login:ID/RECID" or "TOKENID/RECID" → when audited
}

func (p *playedSet) seen(key string, now time.Time) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	at, ok := p.m[key]
	return ok && now.Sub(at) < playedTTL
}

func (p *playedSet) mark(key string, now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m == nil || len(p.m) >= maxPlayed {
		p.m = make(map[string]time.Time)
	}
	p.m[key] = now
}
