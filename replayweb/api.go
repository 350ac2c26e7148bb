package replayweb

import (
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/jumpcast/jumpcast/internal/recording"
)

// apiList is one page of the JSON recordings list. Next is the cursor for
// the following page ("" on the last); pass it back as ?cursor=.
type apiList struct {
	Recordings []apiRecording `json:"recordings"`
	Next       string         `json:"next,omitempty"`
}

// apiRecording is a recording's metadata plus whether it can be watched
// live now.
type apiRecording struct {
	recording.Meta
	Live bool `json:"live"`
}

// apiList answers GET /api/recordings with the list page's filters (q,
// user, target, remote_user, status, since, until, sort, order) plus limit
// and cursor. A user account's list is of its own recordings only, whatever
// user= says (listFilter).
func (s *Server) apiList(c echo.Context) error {
	q, f, err := listFilter(c, apiPageSize, maxAPIPageSize)
	if err != nil {
		return err
	}
	if q.Screen != "" { // the list page's search reads files; the API does not
		return echo.NewHTTPError(http.StatusBadRequest, "screen: searching recordings' text is on the list page and in `jumpcast recordings grep`, not in the API")
	}
	page, err := s.store.ListRecordings(c.Request().Context(), f)
	if err != nil {
		return fmt.Errorf("list recordings: %w", err)
	}
	out := apiList{Recordings: make([]apiRecording, 0, len(page.Items)), Next: page.Next}
	active := s.activeSet()
	for _, r := range page.Items {
		out.Recordings = append(out.Recordings, apiRecording{Meta: r, Live: active[r.ID] || s.remoteNode(&r) != ""})
	}
	return c.JSON(http.StatusOK, out)
}

func (s *Server) apiGet(c echo.Context) error {
	rec, err := s.recordingFor(c)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, apiRecording{Meta: *rec, Live: s.isLive(rec)})
}
