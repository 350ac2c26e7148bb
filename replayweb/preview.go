package replayweb

import (
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/jumpcast/jumpcast/internal/audit"
	"github.com/jumpcast/jumpcast/internal/recording"
	"github.com/jumpcast/jumpcast/recorder/asciicast"
	"github.com/jumpcast/jumpcast/recorder/castfile"
	"github.com/jumpcast/jumpcast/store"
)

// The list's previews: GET /previews?ids=A,B,… answers, for each listed
// recording the principal may see, its screen at its most active moment
// (the end of the chunk with the most output: the moment the recording
// page's poster shows), as text. The list page asks for the rows it
// shows as they scroll into view (list.js).
//
// A preview shows what a session displayed, so each recording previewed
// is an audit event (kind preview, with its session id), written before
// its file is read: once per login and recording within playedTTL, as
// for the player's chunks, so that an auditor paging back and forth
// through the list does not fill the trail. When the event cannot be
// written the request fails and shows nothing more.

// maxPreviewIDs bounds one request: a list page's rows.
const maxPreviewIDs = pageSize

// previewBudget is how long one request spends making previews; the ids
// it did not reach are answered as "later", for the page to ask again.
// A preview of a recording with keyframes indexed takes milliseconds; one
// made on demand replays up to a chunk (castfile.Reader.Keyframe).
var previewBudget = 2 * time.Second

// previewRawLimit: an uncompressed recording (from before compression,
// not compacted) is read whole to find its chunks; larger ones get no
// preview.
const previewRawLimit = 64 << 20

// preview is one recording's entry in the answer.
type preview struct {
	ID    string   `json:"id"`
	At    float64  `json:"at"`    // seconds into the recording
	Clock string   `json:"clock"` // At as M:SS.s (asciicast.Offset)
	Cols  int      `json:"cols"`
	Rows  int      `json:"rows"`
	Lines []string `json:"lines"` // the screen's rows as text, trailing blanks trimmed
}

// previewAnswer is the JSON of GET /previews.
type previewAnswer struct {
	Previews []preview `json:"previews"`
	// Later lists the ids not reached within previewBudget.
	Later []string `json:"later"`
}

func (s *Server) previews(c echo.Context) error {
	ids, err := previewIDs(c.QueryParam("ids"))
	if err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, err.Error())
	}
	p := principalOf(c)
	ctx := c.Request().Context()
	start := time.Now() // the wall clock: s.now may be a test's
	out := previewAnswer{Previews: []preview{}, Later: []string{}}
	for i, id := range ids {
		if i > 0 && time.Since(start) > previewBudget {
			out.Later = append(out.Later, ids[i:]...)
			break
		}
		rec, err := s.store.GetRecording(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("get recording %s: %w", id, err)
		}
		if !p.mayView(rec) {
			s.log.Info("preview of another user's recording not given", "user", p.Name, "session_id", id, "remote_addr", c.RealIP())
			continue
		}
		if err := s.auditPreview(c, rec); err != nil {
			return err
		}
		pv, ok, err := s.previewOf(rec)
		if err != nil {
			s.log.Warn("no preview for a recording", "session_id", id, "err", err)
			continue
		}
		if ok {
			out.Previews = append(out.Previews, pv)
		}
	}
	return c.JSON(http.StatusOK, out)
}

// previewIDs parses the ids parameter: comma-separated recording ids, at
// most maxPreviewIDs, duplicates dropped.
func previewIDs(q string) ([]string, error) {
	if q == "" {
		return nil, errors.New("ids: no recording ids")
	}
	parts := strings.Split(q, ",")
	if len(parts) > maxPreviewIDs {
		return nil, fmt.Errorf("ids: at most %d recordings per request", maxPreviewIDs)
	}
	seen := make(map[string]bool, len(parts))
	ids := parts[:0]
	for _, id := range parts {
		if !recording.ValidID(id) {
			return nil, errors.New("ids: not a recording id")
		}
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	return ids, nil
}

// auditPreview writes the preview event of rec unless this login or
// token previewed it within playedTTL.
func (s *Server) auditPreview(c echo.Context, rec *recording.Meta) error {
	p := principalOf(c)
	key := seenKey(p, "preview:", rec.ID)
	if s.played.seen(key, s.now()) {
		return nil
	}
	who := audit.Who{User: p.Name, Target: targetName(*rec), RemoteUser: rec.RemoteUser}
	if err := s.audit(c, audit.Previewed(who, rec.ID)); err != nil {
		return echo.NewHTTPError(http.StatusServiceUnavailable, "the audit log cannot be written; previews are refused").SetInternal(err)
	}
	s.played.mark(key, s.now())
	return nil
}

// previewOf makes rec's preview, or takes it from the cache (finished
// recordings only: their files do not change). ok is false when there is
// nothing to show: no output, no file (purged), or a raw file too large.
func (s *Server) previewOf(rec *recording.Meta) (pv preview, ok bool, err error) {
	final := rec.Status != recording.StatusActive
	if final {
		if pv, ok := s.previewCache.get(rec.ID); ok {
			return pv, pv.Lines != nil, nil
		}
	}
	pv, err = makePreview(s.casts, rec)
	if errors.Is(err, fs.ErrNotExist) {
		return preview{}, false, nil
	}
	if err != nil {
		return preview{}, false, err
	}
	if final {
		s.previewCache.put(rec.ID, pv)
	}
	return pv, pv.Lines != nil, nil
}

// makePreview reads rec's file; a preview without Lines means none.
func makePreview(o castfile.Opener, rec *recording.Meta) (preview, error) {
	rel, err := castPath(rec)
	if err != nil {
		return preview{}, err
	}
	pv := preview{ID: rec.ID}
	if !castfile.Compressed(rel) && rec.FileSize > previewRawLimit {
		return pv, nil
	}
	r, err := castfile.Open(o, rel)
	if err != nil {
		return preview{}, err
	}
	defer func() { _ = r.Close() }()
	best := r.Busiest()
	if best < 0 {
		return pv, nil
	}
	scr, err := r.ScreenAfter(best)
	if err != nil {
		return preview{}, err
	}
	defer func() { _ = scr.Close() }()
	pv.At = r.Index().Chunks[best].End
	pv.Clock = asciicast.Offset(pv.At)
	pv.Cols, pv.Rows = scr.Size()
	pv.Lines = scr.Text()
	return pv, nil
}

// maxPreviews bounds the cache; when full it is emptied. A preview is a
// screenful of text: a few kilobytes.
const maxPreviews = 2000

// previewCache keeps the previews of finished recordings by id.
type previewCache struct {
	mu sync.Mutex // guards m
	m  map[string]preview
}

func (p *previewCache) get(id string) (preview, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pv, ok := p.m[id]
	return pv, ok
}

func (p *previewCache) put(id string, pv preview) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m == nil || len(p.m) >= maxPreviews {
		p.m = make(map[string]preview)
	}
	p.m[id] = pv
}
