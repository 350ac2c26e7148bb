package postgres

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/jumpcast/jumpcast/internal/recording"
	"github.com/jumpcast/jumpcast/store"
)

// textScanRows bounds the rows one page with a Filter.Text reads: the
// text is checked on each row the other filters (and the cursor) leave,
// in page order, and a page that reaches this many rows without filling
// up is returned short with a cursor after the last row read, as the
// bbolt index does with its work budget. About 10 ms of scanning.
const textScanRows = 20_000

// ListRecordings returns one page of the recordings that match f, in the
// same order and with the same cursor meaning as store.Store: by start
// (the id) or by duration then id, newest or longest first unless f.Asc.
//
// Every filter but Text is an index condition: the equality filters on
// their (value, id) indexes, the time range on the primary key, and the
// duration order on (dur_key, id) or (user, dur_key, id). Without Text a
// page is one index-ordered query of Limit+1 rows. With Text, see
// textScanRows.
func (s *Store) ListRecordings(ctx context.Context, f store.Filter) (store.Page, error) {
	q, err := buildList(f)
	if err != nil {
		return store.Page{}, fmt.Errorf("list recordings: %w", unavailable(err))
	}
	rows, err := s.pool.Query(ctx, q.sql, q.args...)
	if err != nil {
		return store.Page{}, fmt.Errorf("list recordings: %w", unavailable(err))
	}
	defer rows.Close()
	var page store.Page
	var tail *recording.Meta // the last row a text scan read
	scanned := 0
	for rows.Next() {
		var part, n int
		r, err := scanRecording(rows, &part, &n)
		if err != nil {
			return store.Page{}, fmt.Errorf("list recordings: %w", unavailable(err))
		}
		scanned = n
		if part == 1 {
			tail = &r
			continue
		}
		page.Items = append(page.Items, r)
	}
	if err := rows.Err(); err != nil {
		return store.Page{}, fmt.Errorf("list recordings: %w", unavailable(err))
	}
	switch {
	case len(page.Items) > q.limit:
		page.Items = page.Items[:q.limit]
		last := page.Items[q.limit-1]
		page.Next = store.RecordingCursor(q.byDuration, last.Duration, last.ID)
	case tail != nil && scanned >= textScanRows:
		page.Next = store.RecordingCursor(q.byDuration, tail.Duration, tail.ID)
	}
	return page, nil
}

type listQuery struct {
	sql        string
	args       []any
	limit      int
	byDuration bool
}

// buildList turns f into one SQL statement. Its rows are recordingCols
// followed by part (0: a page item, 1: the last row a text scan read) and
// the number of rows the text scan read (0 without Text).
func buildList(f store.Filter) (*listQuery, error) {
	q := &listQuery{limit: f.Limit}
	switch f.Sort {
	case "", "start":
	case "duration":
		q.byDuration = true
	default:
		return nil, fmt.Errorf("%w: sort %q (want start or duration)", store.ErrInvalidFilter, f.Sort)
	}
	if q.limit <= 0 {
		q.limit = store.DefaultLimit
	}
	q.limit = min(q.limit, store.MaxLimit)
	arg := func(v any) string {
		q.args = append(q.args, v)
		return "$" + strconv.Itoa(len(q.args))
	}
	var where []string
	eq := func(col, v string) {
		if v != "" {
			where = append(where, col+" = "+arg(v))
		}
	}
	eq("user_name", f.User)
	eq("remote_user", f.RemoteUser)
	eq("status", string(f.Status))
	if f.Target != "" {
		p := arg(f.Target)
		where = append(where, "(target_alias = "+p+" OR target_host = "+p+")")
	}
	if !f.Since.IsZero() {
		where = append(where, "id >= "+arg(recording.TimePrefix(f.Since)), "start_ns >= "+arg(f.Since.UnixNano()))
	}
	if !f.Until.IsZero() {
		// Ids of Until's microsecond may still start before it.
		where = append(where, "id < "+arg(recording.TimePrefix(f.Until)+"~"), "start_ns < "+arg(f.Until.UnixNano()))
	}
	dir, cmp := "DESC", "<"
	if f.Asc {
		dir, cmp = "ASC", ">"
	}
	order := "id " + dir
	if q.byDuration {
		order = "dur_key " + dir + ", id " + dir
	}
	if f.Cursor != "" {
		durKey, id, inclusive, err := store.ParseRecordingCursor(f.Cursor, q.byDuration)
		if err != nil {
			return nil, err
		}
		if inclusive {
			cmp += "="
		}
		if q.byDuration {
			where = append(where, "(dur_key, id) "+cmp+" ("+arg(durKey)+", "+arg(id)+")")
		} else {
			where = append(where, "id "+cmp+" "+arg(id))
		}
	}
	cond := "TRUE"
	if len(where) > 0 {
		cond = strings.Join(where, " AND ")
	}
	if f.Text == "" {
		q.sql = `SELECT ` + recordingCols + `, 0, 0 FROM recordings WHERE ` + cond +
			` ORDER BY ` + order + ` LIMIT ` + strconv.Itoa(q.limit+1)
		return q, nil
	}
	text := arg(strings.ToLower(f.Text))
	rev := "id " + flip(dir)
	if q.byDuration {
		rev = "dur_key " + flip(dir) + ", id " + flip(dir)
	}
	// s: the rows the scan reads, in page order, with the text checked;
	// m: the first Limit+1 matches; t: the last row read, where a short
	// page's cursor resumes.
	q.sql = `WITH s AS MATERIALIZED (
		SELECT id, dur_key, (strpos(lower(title), ` + text + `) > 0 OR strpos(lower(command), ` + text + `) > 0) AS ok
		FROM recordings WHERE ` + cond + ` ORDER BY ` + order + ` LIMIT ` + strconv.Itoa(textScanRows) + `),
	n AS (SELECT count(*) AS n FROM s),
	m AS (SELECT id FROM s WHERE ok ORDER BY ` + order + ` LIMIT ` + strconv.Itoa(q.limit+1) + `),
	t AS (SELECT id FROM s ORDER BY ` + rev + ` LIMIT 1)
	SELECT ` + recordingCols + `, part, n FROM (
		SELECT r.*, 0 AS part FROM m JOIN recordings r USING (id)
		UNION ALL
		SELECT r.*, 1 AS part FROM t JOIN recordings r USING (id)
	) x, n ORDER BY part, ` + order
	return q, nil
}

func flip(dir string) string {
	if dir == "DESC" {
		return "ASC"
	}
	return "DESC"
}
