package store

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/jumpcast/jumpcast/internal/recording"
)

// Page sizes of ListRecordings and ListAudit.
const (
	DefaultLimit = 50
	MaxLimit     = 500
)

// Filter selects and orders recordings for ListRecordings. The zero value
// lists every recording, newest first, DefaultLimit per page.
type Filter struct {
	User       string           // exact Meta.User; "" = any
	Target     string           // exact TargetAlias, or exact host of TargetAddr; "" = any
	RemoteUser string           // exact Meta.RemoteUser; "" = any
	Status     recording.Status // exact Meta.Status; "" = any
	Since      time.Time        // Start >= Since; zero = no lower bound
	Until      time.Time        // Start < Until; zero = no upper bound
	Text       string           // case-insensitive substring of Title or Command; "" = any
	Sort       string           // "start" (default) or "duration"
	Asc        bool             // oldest/shortest first; default newest/longest first
	Limit      int              // page size; <= 0 means DefaultLimit, capped at MaxLimit
	Cursor     string           // Page.Next of the previous page; "" = first page
}

// Page is one page of ListRecordings.
type Page struct {
	Items []recording.Meta `json:"recordings"`
	// Next is the cursor of the following page, "" when there is none. A
	// page can hold fewer than Limit items (even none) while Next is not
	// empty: the page's work budget ran out first (see ListRecordings).
	Next string `json:"next"`
}

// ListRecordings returns one page of the recordings that match f.
//
// How a page is found, and what it costs at most:
//
//   - Sort by start, no User/Target/RemoteUser/Status: a seek in the rows
//     (ids sort by start time, so Since/Until are a key range) and one step
//     per row.
//   - Sort by start with equality filters: the ids of each filter's index
//     entries, intersected by seeking each index to the others' candidate
//     (leapfrog join) within the same key range. With one filter every
//     entry is a match.
//   - Sort by duration: if one filter (or the time range) selects at most
//     smallSetMax rows, they are ranked in memory from the durations stored
//     in the index entries; otherwise the duration index is walked and each
//     row is checked.
//   - Text and the remaining filters are checked on the row.
//
// Each page spends at most pageBudget work units (see walk.go; about 10 ms
// here: 33,000 rows of a free-text scan, or 7,500 rows reached through an
// index). When the budget runs out before the page
// is full, the page is returned short, possibly empty, with a Next cursor
// that resumes exactly where the work stopped: paging never skips or
// repeats a row. The worst case, a filter that matches almost nothing
// among many rows (a rare word in Text, or two large filters that seldom
// meet), therefore costs one budget per page and about rows/20,000 pages to
// reach the end; any filter whose candidates fit in the budget is exact in
// one page.
//
// Cursors are stable while rows are added: a new recording starts later
// than every existing one, so in the default newest-first order it never
// appears on a following page. A row whose duration changes between pages
// (FinishRecording) may move across a duration-sorted cursor.
func (s *Store) ListRecordings(ctx context.Context, f Filter) (Page, error) {
	q, err := newQuery(f)
	if err != nil {
		return Page{}, fmt.Errorf("list recordings: %w", err)
	}
	q.budget, q.smallSet = s.budget, s.smallSet
	var page Page
	err = s.view(ctx, func(tx *bolt.Tx) error {
		q.rows = tx.Bucket(bucketRecordings)
		var st stream
		if q.byDuration {
			st = q.durationStream(tx)
		} else {
			st = q.startStream(tx)
		}
		var err error
		page, err = q.run(st)
		return err
	})
	if err != nil {
		return Page{}, fmt.Errorf("list recordings: %w", err)
	}
	return page, nil
}

// query is the state of one ListRecordings call.
type query struct {
	f          Filter
	byDuration bool
	desc       bool
	limit      int
	lo, hi     []byte // id bounds from Since/Until: lo inclusive, hi exclusive; nil = none
	text       string // lower-cased Filter.Text
	from       []byte // cursor position; nil = start
	inclusive  bool   // whether the cursor position itself is still to be decided

	budget, smallSet int // from the Store

	rows *bolt.Bucket
	work int
}

func newQuery(f Filter) (*query, error) {
	q := &query{f: f, desc: !f.Asc, limit: f.Limit, text: strings.ToLower(f.Text)}
	switch f.Sort {
	case "", "start":
	case "duration":
		q.byDuration = true
	default:
		return nil, fmt.Errorf("%w: sort %q (want start or duration)", ErrInvalidFilter, f.Sort)
	}
	if q.limit <= 0 {
		q.limit = DefaultLimit
	}
	q.limit = min(q.limit, MaxLimit)
	if !f.Since.IsZero() {
		q.lo = []byte(recording.TimePrefix(f.Since))
	}
	if !f.Until.IsZero() {
		// Ids of the same microsecond as Until may still start before it
		// (Start can carry nanoseconds): include them, the row check decides.
		q.hi = []byte(recording.TimePrefix(f.Until) + "~")
	}
	if f.Cursor != "" {
		var err error
		if q.from, q.inclusive, err = decodeCursor(f.Cursor, q.byDuration); err != nil {
			return nil, err
		}
	}
	return q, nil
}

// eqFilters lists the equality filters as (index bucket, value).
func (q *query) eqFilters() [][2][]byte {
	var out [][2][]byte
	for _, e := range []struct {
		b []byte
		v string
	}{{bucketUser, q.f.User}, {bucketRemoteUser, q.f.RemoteUser}, {bucketTarget, q.f.Target}, {bucketStatus, string(q.f.Status)}} {
		if e.v != "" {
			out = append(out, [2][]byte{e.b, []byte(e.v + "\x00")})
		}
	}
	return out
}

// startStream plans a start-ordered page (see ListRecordings).
func (q *query) startStream(tx *bolt.Tx) stream {
	eq := q.eqFilters()
	if len(eq) == 0 {
		w := q.idWalker(tx.Bucket(bucketRecordings).Cursor(), nil)
		w.rows = true
		return single{w}
	}
	ws := make([]*walker, len(eq))
	for i, e := range eq {
		ws[i] = q.idWalker(tx.Bucket(e[0]).Cursor(), e[1])
	}
	if len(ws) == 1 {
		return single{ws[0]}
	}
	return &leapfrog{ws: ws, work: &q.work, limit: q.budget}
}

func (q *query) idWalker(c *bolt.Cursor, prefix []byte) *walker {
	return &walker{c: c, prefix: prefix, restLen: recording.IDLen, lo: q.lo, hi: q.hi, desc: q.desc, work: &q.work}
}

// run collects one page from st: each position's row is read and checked
// until the page is full and one more match proves there is a next page,
// the stream ends, or the budget runs out.
func (q *query) run(st stream) (Page, error) {
	var page Page
	var last []byte // position of the last item on the page
	var v rowView
	checked := false // at least one row per page, so that paging always advances
	pos, val, state := st.first(q.from, q.inclusive || q.from == nil)
	for ; state == streamOK; pos, val, state = st.next() {
		if q.work >= q.budget && checked {
			state = streamOutOfBudget
			break
		}
		checked = true
		id := pos[len(pos)-recording.IDLen:]
		if val == nil {
			q.work += costRowGet
			val = q.rows.Get(id)
		} else {
			q.work += costRow
		}
		if val == nil {
			return Page{}, fmt.Errorf("index entry for %s has no row", id)
		}
		if err := v.parse(val); err != nil {
			return Page{}, fmt.Errorf("recording %s: %w", id, err)
		}
		if !q.match(&v) {
			continue
		}
		if len(page.Items) == q.limit {
			page.Next = encodeCursor(q.byDuration, last, false)
			return page, nil
		}
		page.Items = append(page.Items, v.recording(string(id)))
		last = pos
	}
	if state == streamOutOfBudget {
		if len(page.Items) == q.limit {
			page.Next = encodeCursor(q.byDuration, last, false)
		} else {
			page.Next = encodeCursor(q.byDuration, pos, true)
		}
	}
	return page, nil
}

// match checks every filter on a row (including the ones an index already
// enforced: cheap, and it keeps a damaged index from showing wrong rows).
func (q *query) match(v *rowView) bool {
	f := &q.f
	if f.User != "" && string(v.s[fUser]) != f.User ||
		f.RemoteUser != "" && string(v.s[fRemoteUser]) != f.RemoteUser ||
		f.Status != "" && string(v.s[fStatus]) != string(f.Status) {
		return false
	}
	if f.Target != "" && string(v.s[fTargetAlias]) != f.Target && string(hostPart(v.s[fTargetAddr])) != f.Target {
		return false
	}
	if !f.Since.IsZero() || !f.Until.IsZero() {
		start := v.startTime()
		if !f.Since.IsZero() && start.Before(f.Since) || !f.Until.IsZero() && !start.Before(f.Until) {
			return false
		}
	}
	if q.text != "" && !containsFold(v.s[fTitle], q.text) && !containsFold(v.s[fCommand], q.text) {
		return false
	}
	return true
}

// Cursors are base64url of: version, sort ('s' start, 'd' duration),
// inclusive flag, position (an id, or 8-byte duration + id).
const cursorVersion = 1

func encodeCursor(byDuration bool, pos []byte, inclusive bool) string {
	b := make([]byte, 0, 3+len(pos))
	b = append(b, cursorVersion, 's', 0)
	if byDuration {
		b[1] = 'd'
	}
	if inclusive {
		b[2] = 1
	}
	return base64.RawURLEncoding.EncodeToString(append(b, pos...))
}

func decodeCursor(c string, byDuration bool) (pos []byte, inclusive bool, err error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	bad := fmt.Errorf("%w: cursor %q was not made by this store for this sort", ErrInvalidFilter, c)
	if err != nil || len(b) < 3 || b[0] != cursorVersion || b[2] > 1 {
		return nil, false, bad
	}
	want, kind := recording.IDLen, byte('s')
	if byDuration {
		want, kind = 8+recording.IDLen, 'd'
	}
	pos = b[3:]
	if b[1] != kind || len(pos) != want || !recording.ValidID(string(pos[len(pos)-recording.IDLen:])) {
		return nil, false, bad
	}
	return pos, b[2] == 1, nil
}

// containsFold reports whether hay contains needle (already lower-cased)
// ignoring case, without allocating.
func containsFold(hay []byte, needle string) bool {
	if needle == "" {
		return true
	}
	if len(hay) < len(needle)/3 {
		return false // folding changes a rune's length by at most 3x
	}
	first := needle[0]
	for i := 0; i < len(hay); i++ {
		c := hay[i]
		if first < 0x80 && c < 0x80 {
			if lowerASCII(c) != first {
				continue
			}
		} else if c&0xc0 == 0x80 {
			continue // not the first byte of a rune
		}
		if hasPrefixFold(hay[i:], needle) {
			return true
		}
	}
	return false
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// hasPrefixFold reports whether s starts with prefix under simple Unicode
// case folding.
func hasPrefixFold(s []byte, prefix string) bool {
	for _, pr := range prefix {
		if len(s) == 0 {
			return false
		}
		sr, n := decodeRune(s)
		s = s[n:]
		if !equalFoldRune(sr, pr) {
			return false
		}
	}
	return true
}
