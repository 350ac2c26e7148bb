package replayweb

import (
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/jumpcast/jumpcast/internal/audit"
	"github.com/jumpcast/jumpcast/internal/recording"
	"github.com/jumpcast/jumpcast/recorder"
	"github.com/jumpcast/jumpcast/recorder/castfile"
	"github.com/jumpcast/jumpcast/store"
)

// idleLimit is the player's default idle-time limit in seconds: pauses
// longer than this are shortened, so a session where the admin read a man
// page for ten minutes plays in seconds. The page lets the auditor change it.
const idleLimit = 2

// errNoRecording is the one answer for an invalid id and an unknown one.
var errNoRecording = echo.NewHTTPError(http.StatusNotFound, "no such recording")

// recordingFor validates the :id parameter with recording.ValidID before it
// goes anywhere, then looks the row up. A recording the principal may not
// see (a user account asking for someone else's) is errNoRecording, the
// same answer as an unknown id, so its existence does not show; it is
// logged, not audited as a playback.
func (s *Server) recordingFor(c echo.Context) (*recording.Meta, error) {
	id := c.Param("id")
	if !recording.ValidID(id) {
		return nil, errNoRecording
	}
	rec, err := s.store.GetRecording(c.Request().Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errNoRecording
	}
	if err != nil {
		return nil, fmt.Errorf("get recording %s: %w", id, err)
	}
	if p := principalOf(c); !p.mayView(rec) {
		name := ""
		if p != nil {
			name = p.Name
		}
		s.log.Info("web request for another user's recording answered 404", "user", name, "session_id", id, "remote_addr", c.RealIP())
		return nil, errNoRecording
	}
	return rec, nil
}

type recordingBody struct {
	Rec    recording.Meta
	Live   bool // the live view is available: the player follows the session
	CanEnd bool // the page offers an admin the form that ends the session
	// CanEndConnection: the form also offers to end the whole connection.
	CanEndConnection bool
	Notice           string
	IdleLimit        int
	StartAt          string // ?t=: seconds into the recording where the player opens; "" from the start
	// Cut is ?cut= with ?t=: the player shows only that many bytes of the
	// event at StartAt (asciicast.Line.Cut: the screen as it was when a
	// line was complete); 0 shows the whole event.
	Cut int
	// Verify is the result of the "Verify the file" button, nil otherwise.
	Verify *recorder.Check
}

func (s *Server) recordingPage(c echo.Context) error {
	rec, err := s.recordingFor(c)
	if err != nil {
		return err
	}
	return s.showRecording(c, rec, nil)
}

// verifyRecording re-hashes the recording's file against the index
// (CastOpener.Check, what `jumpcast recordings verify` does), writes a
// "verify" audit event and shows the page with the result.
func (s *Server) verifyRecording(c echo.Context) error {
	rec, err := s.recordingFor(c)
	if err != nil {
		return err
	}
	rel, err := castPath(rec)
	if err != nil {
		return fmt.Errorf("verify recording %s: %w", rec.ID, err)
	}
	check := s.casts.Check(rel, rec.SHA256, rec.Status == recording.StatusActive)
	if err := s.audit(c, audit.Verified(actorOn(principalOf(c).Name, rec), rec.ID, check.OK, check.Actual, check.Problem)); err != nil {
		return err
	}
	return s.showRecording(c, rec, &check)
}

// showRecording renders the recording page, with a verification result
// when verify is set.
func (s *Server) showRecording(c echo.Context, rec *recording.Meta, verify *recorder.Check) error {
	b := recordingBody{Rec: *rec, IdleLimit: idleLimit, Verify: verify}
	b.Live = s.isLive(rec)
	b.CanEnd = rec.Status == recording.StatusActive && s.o.EndSession != nil && principalOf(c).Role == store.RoleAdmin
	b.CanEndConnection = b.CanEnd && s.o.EndConnection != nil
	if t, err := strconv.ParseFloat(c.QueryParam("t"), 64); err == nil && t > 0 && t < 1e9 {
		b.StartAt = strconv.FormatFloat(t, 'f', -1, 64)
		if n, err := strconv.Atoi(c.QueryParam("cut")); err == nil && n > 0 && n < 1<<30 {
			b.Cut = n
		}
	}
	switch c.QueryParam("ended") {
	case "":
	case "connection":
		b.Notice = "You ended this session's whole connection: every session on it ended, and its admin was told why."
	default:
		b.Notice = "You ended this session; its admin was told why."
	}
	return s.render(c, http.StatusOK, "recording", pageData{Title: rec.RemoteUser + "@" + targetName(*rec), Nav: "recordings", Body: b, Nonce: randomToken()})
}

// castForPage serves the cast to the player (a playback) or, with
// ?download=1, as an attachment (a download).
func (s *Server) castForPage(c echo.Context) error {
	rec, err := s.recordingFor(c)
	if err != nil {
		return err
	}
	kind := audit.KindPlayback
	if c.QueryParam("download") != "" {
		kind = audit.KindDownload
	}
	return s.serveCast(c, rec, kind, "web")
}

func (s *Server) apiCast(c echo.Context) error {
	rec, err := s.recordingFor(c)
	if err != nil {
		return err
	}
	return s.serveCast(c, rec, audit.KindDownload, "api")
}

// castPath is rec's file under the recordings folder: its indexed path,
// or the one its id names.
func castPath(rec *recording.Meta) (string, error) {
	if rec.Path != "" {
		return rec.Path, nil
	}
	return recording.RelPath(rec.ID)
}

// openCast opens rec's file (castPath) as a plain asciicast stream, in
// either format at rest (castfile.OpenPlain: a raw file is the *os.File).
func (s *Server) openCast(rec *recording.Meta) (io.ReadCloser, error) {
	rel, err := castPath(rec)
	if err != nil {
		return nil, err
	}
	return castfile.OpenPlain(s.casts, rel)
}

// serveCast streams the recording file, gzip-compressed when the client
// accepts it; kind is audit.KindPlayback or audit.KindDownload. The audit
// event is written first: when it cannot be, the cast is not served.
func (s *Server) serveCast(c echo.Context, rec *recording.Meta, kind audit.Kind, via string) error {
	f, err := s.openCast(rec)
	if errors.Is(err, fs.ErrNotExist) {
		return echo.NewHTTPError(http.StatusNotFound, "the recording file is missing (purged?)").SetInternal(err)
	}
	if err != nil {
		return fmt.Errorf("open recording %s: %w", rec.ID, err)
	}
	defer func() { _ = f.Close() }()
	if err := s.auditRecording(c, rec, kind, via, false); err != nil {
		return err
	}
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, "application/x-asciicast")
	h.Set(echo.HeaderVary, echo.HeaderAcceptEncoding)
	disp := "inline"
	if kind == audit.KindDownload {
		disp = "attachment"
	}
	// Ids are [0-9TZ.-] and a hex suffix: nothing to quote or escape.
	h.Set(echo.HeaderContentDisposition, disp+`; filename="`+rec.ID+`.cast"`)
	if acceptsGzip(c.Request().Header.Get(echo.HeaderAcceptEncoding)) {
		h.Set(echo.HeaderContentEncoding, "gzip")
		c.Response().WriteHeader(http.StatusOK)
		zw := gzip.NewWriter(c.Response())
		if _, err := io.Copy(zw, f); err != nil {
			return fmt.Errorf("send recording %s: %w", rec.ID, err)
		}
		return zw.Close()
	}
	// (A compressed recording's plain size is not known before sending.)
	if raw, ok := f.(*os.File); ok && rec.Status != recording.StatusActive {
		st, err := raw.Stat()
		if err != nil {
			return fmt.Errorf("send recording %s: %w", rec.ID, err)
		}
		h.Set(echo.HeaderContentLength, strconv.FormatInt(st.Size(), 10))
	}
	c.Response().WriteHeader(http.StatusOK)
	if _, err := io.Copy(c.Response(), f); err != nil {
		return fmt.Errorf("send recording %s: %w", rec.ID, err)
	}
	return nil
}

// acceptsGzip reports whether an Accept-Encoding header allows gzip
// (explicitly or by "*"), honouring q=0.
func acceptsGzip(header string) bool {
	for part := range strings.SplitSeq(header, ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		coding = strings.ToLower(strings.TrimSpace(coding))
		if coding != "gzip" && coding != "x-gzip" && coding != "*" {
			continue
		}
		q := strings.ReplaceAll(strings.ToLower(params), " ", "")
		if strings.HasPrefix(q, "q=0") && strings.Trim(strings.TrimPrefix(q, "q=0"), ".0") == "" {
			return false
		}
		return true
	}
	return false
}

// audit writes an audit event stamped with the time and the client
// address. A failure is logged here, so a caller whose action is already
// done may ignore the error.
func (s *Server) audit(c echo.Context, ev audit.Event) error {
	ev.Time = s.now().UTC()
	ev.RemoteAddr = c.RealIP()
	if err := s.store.AppendAudit(c.Request().Context(), ev); err != nil {
		s.log.Error("write audit event", "err", err, "kind", ev.Kind, "user", ev.User, "session_id", ev.SessionID)
		return fmt.Errorf("write audit event: %w", err)
	}
	return nil
}

// actorOn is the party of an audit event about rec: user (a web account)
// acting on rec's target alias and remote user.
func actorOn(user string, rec *recording.Meta) audit.Who {
	return audit.Who{User: user, Target: rec.TargetAlias, RemoteUser: rec.RemoteUser}
}

// auditRecording records that the request's principal played (kind
// audit.KindPlayback, live while the session runs) or downloaded
// (audit.KindDownload) rec through via.
func (s *Server) auditRecording(c echo.Context, rec *recording.Meta, kind audit.Kind, via string, live bool) error {
	who, token := audit.Who{Target: targetName(*rec), RemoteUser: rec.RemoteUser}, ""
	if p := principalOf(c); p != nil {
		who.User, token = p.Name, p.tokenID
	}
	ev := audit.Played(who, rec.ID, via, token, live)
	if kind == audit.KindDownload {
		ev = audit.Downloaded(who, rec.ID, via, token)
	}
	if err := s.audit(c, ev); err != nil {
		return echo.NewHTTPError(http.StatusServiceUnavailable, "the audit log cannot be written; playback is refused").SetInternal(err)
	}
	return nil
}
