package replayweb

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/jumpcast/jumpcast/internal/recording"
	"github.com/jumpcast/jumpcast/store"
)

// Page sizes: the list page shows pageSize rows; the API defaults to
// apiPageSize and allows up to maxAPIPageSize per request.
const (
	pageSize       = 50
	apiPageSize    = 100
	maxAPIPageSize = 500
	maxFilterLen   = 200
)

// listQuery is the recordings filter as it appears in the URL; the list
// page, its links and the API all use it, so a link can be shared.
type listQuery struct {
	Text, User, Target, RemoteUser, Status string
	Screen                                 string // text the terminal showed (list page only; see screen.go)
	SinceText, UntilText                   string // as typed: YYYY-MM-DD or RFC 3339
	Sort                                   string // "start" or "duration"
	Order                                  string // "desc" or "asc"
	Cursor                                 string
	Limit                                  int
}

// parseListQuery reads the filter from URL values. Dates are UTC days
// ("until" includes its whole day) or RFC 3339 times.
func parseListQuery(v url.Values, defLimit, maxLimit int) (listQuery, store.Filter, error) {
	q := listQuery{
		Text: v.Get("q"), Screen: v.Get("screen"), User: v.Get("user"), Target: v.Get("target"), RemoteUser: v.Get("remote_user"),
		Status: v.Get("status"), SinceText: v.Get("since"), UntilText: v.Get("until"),
		Sort: v.Get("sort"), Order: v.Get("order"), Cursor: v.Get("cursor"), Limit: defLimit,
	}
	for _, s := range []*string{&q.Text, &q.Screen, &q.User, &q.Target, &q.RemoteUser, &q.SinceText, &q.UntilText} {
		*s = strings.TrimSpace(*s)
		if len(*s) > maxFilterLen {
			return q, store.Filter{}, fmt.Errorf("a filter is longer than %d characters", maxFilterLen)
		}
	}
	if q.Status != "" && !recording.Status(q.Status).Valid() {
		return q, store.Filter{}, fmt.Errorf("unknown status %q", q.Status)
	}
	switch q.Sort {
	case "":
		q.Sort = "start"
	case "start", "duration":
	default:
		return q, store.Filter{}, fmt.Errorf("sort must be start or duration")
	}
	switch q.Order {
	case "":
		q.Order = "desc"
	case "asc", "desc":
	default:
		return q, store.Filter{}, fmt.Errorf("order must be asc or desc")
	}
	if l := v.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > maxLimit {
			return q, store.Filter{}, fmt.Errorf("limit must be 1..%d", maxLimit)
		}
		q.Limit = n
	}
	since, err := parseDay(q.SinceText, false)
	if err != nil {
		return q, store.Filter{}, fmt.Errorf("since: %w", err)
	}
	until, err := parseDay(q.UntilText, true)
	if err != nil {
		return q, store.Filter{}, fmt.Errorf("until: %w", err)
	}
	f := store.Filter{
		User: q.User, Target: q.Target, RemoteUser: q.RemoteUser, Status: recording.Status(q.Status),
		Since: since, Until: until, Text: q.Text,
		Sort: q.Sort, Asc: q.Order == "asc", Limit: q.Limit, Cursor: q.Cursor,
	}
	return q, f, nil
}

// listFilter parses the request's filter and confines it to what the
// principal may see: a user account's listing is always of its own
// recordings, whatever the query string says. Its person filter is dropped
// from the query (so it is not echoed back into the form or links) and the
// store filter's User is set to the account's name; a cursor only resumes
// within that filtered listing. Without a principal it fails (the route
// lost its guard).
func listFilter(c echo.Context, defLimit, maxLimit int) (listQuery, store.Filter, error) {
	p := principalOf(c)
	if p == nil {
		return listQuery{}, store.Filter{}, errors.New("list recordings: no principal (unguarded route)")
	}
	q, f, err := parseListQuery(c.QueryParams(), defLimit, maxLimit)
	if err != nil {
		return q, f, echo.NewHTTPError(http.StatusBadRequest, err.Error())
	}
	if !p.seesAll() {
		q.User, f.User = "", p.Name
	}
	return q, f, nil
}

// parseDay parses "YYYY-MM-DD" (UTC; endOfDay gives the next midnight, so
// the day is included) or an RFC 3339 time. Empty is the zero time.
func parseDay(s string, endOfDay bool) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		if endOfDay {
			t = t.AddDate(0, 0, 1)
		}
		return t, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("want YYYY-MM-DD or an RFC 3339 time, got %q", s)
	}
	return t.UTC(), nil
}

// filtered reports whether any filter (not sort or page) is set.
func (q listQuery) filtered() bool {
	return q.Text != "" || q.Screen != "" || q.User != "" || q.Target != "" || q.RemoteUser != "" || q.Status != "" ||
		q.SinceText != "" || q.UntilText != ""
}

// values is q as URL values, without the cursor; defaults are left out so
// shared links stay short.
func (q listQuery) values() url.Values {
	v := url.Values{}
	set := func(k, val string) {
		if val != "" {
			v.Set(k, val)
		}
	}
	set("q", q.Text)
	set("screen", q.Screen)
	set("user", q.User)
	set("target", q.Target)
	set("remote_user", q.RemoteUser)
	set("status", q.Status)
	set("since", q.SinceText)
	set("until", q.UntilText)
	if q.Sort != "start" {
		set("sort", q.Sort)
	}
	if q.Order != "desc" {
		set("order", q.Order)
	}
	return v
}

func pageURL(v url.Values) string {
	if len(v) == 0 {
		return "/"
	}
	return "/?" + v.Encode()
}

type listBody struct {
	Q            listQuery
	Items        []recording.Meta
	Filtered     bool
	Statuses     []recording.Status
	Next         string // URL of the next page, "" on the last
	First        string // URL of the first page with the same filters
	SortStart    string // URL sorting by start (toggling order when already)
	SortDuration string
	SSHHint      string
	// OnlyPerson is the account name of a user account, whose list is fixed
	// to its own recordings: the form shows it instead of a person filter.
	// "" for auditors and admins.
	OnlyPerson string
	// Matches holds, with a screen search, each listed recording's first
	// matching line by id (Items keeps only recordings that matched).
	Matches map[string]*screenMatch
	// ScanLimit is how much of each file a screen search reads.
	ScanLimit int64
}

func (s *Server) listPage(c echo.Context) error {
	q, f, err := listFilter(c, pageSize, pageSize)
	if err != nil {
		return err
	}
	page, err := s.store.ListRecordings(c.Request().Context(), f)
	if err != nil {
		return fmt.Errorf("list recordings: %w", err)
	}
	b := listBody{Q: q, Items: page.Items, Filtered: q.filtered(), Statuses: recording.Statuses(), SSHHint: s.o.SSHHint}
	if q.Screen != "" {
		b.ScanLimit = screenScanLimit
		if b.Items, b.Matches, err = s.searchScreens(c, q.Screen, page.Items); err != nil {
			return err
		}
	}
	if p := principalOf(c); !p.seesAll() {
		b.OnlyPerson = p.Name
	}
	base := q.values()
	b.First = pageURL(base)
	if page.Next != "" {
		v := q.values()
		v.Set("cursor", page.Next)
		b.Next = pageURL(v)
	}
	b.SortStart = sortURL(q, "start")
	b.SortDuration = sortURL(q, "duration")
	return s.render(c, http.StatusOK, "list", pageData{Title: "Recordings", Nav: "recordings", Body: b})
}

// sortURL sorts by key, newest/longest first, or flips the order when the
// list is already sorted by key.
func sortURL(q listQuery, key string) string {
	order := "desc"
	if q.Sort == key && q.Order == "desc" {
		order = "asc"
	}
	q.Sort, q.Order = key, order
	return pageURL(q.values())
}
