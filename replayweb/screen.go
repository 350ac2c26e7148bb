package replayweb

import (
	"errors"
	"io"
	"io/fs"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/jumpcast/jumpcast/internal/audit"
	"github.com/jumpcast/jumpcast/internal/recording"
	"github.com/jumpcast/jumpcast/recorder/asciicast"
)

// screenScanLimit is how much of one cast file a screen search reads: a
// page lists up to 50 recordings, and one session that printed gigabytes
// must not stall it. A variable so that tests can lower it.
var screenScanLimit int64 = 64 << 20

// screenMatch is the first line of a recording whose text contains the
// searched string.
type screenMatch struct {
	Href    string // the recording page on the screen as it was when the line was complete (asciicast.Line.Link)
	Clock   string // the same as M:SS.s
	Line    string
	Partial bool // no match in the first screenScanLimit bytes of a longer file: the rest was not searched
}

// searchScreens keeps the recordings of one list page whose output — as
// the terminal showed it (asciicast.ScanLines) — contains text, case
// folded, and returns each one's first matching line. Reading recordings'
// contents is an audit event (kind "search"), written before any file is
// opened; when it cannot be written nothing is searched.
func (s *Server) searchScreens(c echo.Context, text string, recs []recording.Meta) ([]recording.Meta, map[string]*screenMatch, error) {
	p := principalOf(c)
	if err := s.audit(c, audit.Searched(p.Name, text, len(recs))); err != nil {
		return nil, nil, err
	}
	needle := strings.ToLower(text)
	kept := recs[:0:0]
	found := map[string]*screenMatch{}
	for _, r := range recs {
		m, ok, err := s.searchScreen(r, needle)
		if err != nil {
			s.log.Warn("screen search skipped a recording", "session_id", r.ID, "err", err)
			continue
		}
		if ok {
			kept = append(kept, r)
			found[r.ID] = &m
		}
	}
	return kept, found, nil
}

func (s *Server) searchScreen(r recording.Meta, needle string) (screenMatch, bool, error) {
	f, err := s.openCast(&r)
	if errors.Is(err, fs.ErrNotExist) {
		return screenMatch{}, false, nil // purged: nothing to find
	}
	if err != nil {
		return screenMatch{}, false, err
	}
	defer func() { _ = f.Close() }()
	lim := &io.LimitedReader{R: f, N: screenScanLimit}
	rd, err := asciicast.NewReader(lim)
	if err != nil {
		return screenMatch{}, false, err
	}
	var m screenMatch
	found := false
	err = asciicast.ScanLines(rd, asciicast.CodeOutput, func(l asciicast.Line) bool {
		if !strings.Contains(strings.ToLower(l.Text), needle) {
			return true
		}
		m = screenMatch{Href: "/recordings/" + r.ID + "?" + l.Link(), Clock: asciicast.Offset(l.Time), Line: l.Text}
		found = true
		return false
	})
	if err != nil {
		return m, false, err
	}
	if !found {
		// Listed all the same when only the start of the file was read, so
		// that the auditor knows where the search could not look.
		m.Partial = lim.N == 0
		found = m.Partial
	}
	return m, found, nil
}
