package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/jumpcast/jumpcast/internal/recording"
	"github.com/jumpcast/jumpcast/store"
)

// textScanRows bounds the rows one page with a Filter.Text reads: the
// text is checked on each row the other filters (and the cursor) leave,
// in page order, and a page that reads this many rows without filling up
// is returned short with a cursor after the last row read, as the bbolt
// index does with its work budget. About 10 ms of scanning here, either
// way: rows in start order lie together in the table, while the rows an
// equality filter selects are spread over it (textScanRowsIndexed).
const (
	textScanRows        = 8_000
	textScanRowsIndexed = 2_000
)

// ListRecordings returns one page of the recordings that match f, in the
// same order and with the same cursor meaning as store.Store: by start
// (the id) or by duration then id, newest or longest first unless f.Asc.
//
// One equality filter drives the page through its (value, id) index, in
// page order, and stops after Limit+1 matches: the user if set, else the
// target (two index scans merged: alias and host), else the remote user,
// else the status. The other filters are checked on the rows it reads
// (their columns are wrapped so that the planner cannot pick a bitmap
// intersection that reads a whole low-cardinality index instead). The time
// range is an id range; duration order uses (dur_key, id) or (user,
// dur_key, id). With Text, see textScanRows.
func (s *Store) ListRecordings(ctx context.Context, f store.Filter) (store.Page, error) {
	q, err := buildList(f)
	if err != nil {
		return store.Page{}, fmt.Errorf("list recordings: %w", err)
	}
	var page store.Page
	if q.tailSQL == "" {
		page, err = q.run(ctx, s.pool)
	} else {
		// The page and the position of the last row read must come from
		// one snapshot, or a row added between them would be skipped or
		// listed twice.
		err = pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
			var err error
			page, err = q.run(ctx, tx)
			return err
		})
	}
	if err != nil {
		return store.Page{}, fmt.Errorf("list recordings: %w", unavailable(err))
	}
	return page, nil
}

// querier is a pool or a transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// run reads the page and, for a text scan that did not fill it, the
// position where the scan stopped.
func (q *listQuery) run(ctx context.Context, db querier) (store.Page, error) {
	rows, err := db.Query(ctx, q.sql, q.args...)
	if err != nil {
		return store.Page{}, err
	}
	var page store.Page
	for rows.Next() {
		r, err := scanRecording(rows)
		if err != nil {
			rows.Close()
			return store.Page{}, err
		}
		page.Items = append(page.Items, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return store.Page{}, err
	}
	if len(page.Items) > q.limit {
		page.Items = page.Items[:q.limit]
		last := page.Items[q.limit-1]
		page.Next = store.RecordingCursor(q.byDuration, last.Duration, last.ID)
		return page, nil
	}
	if q.tailSQL == "" {
		return page, nil
	}
	var id string
	var durKey int64
	// The text is the last argument, and the tail does not check it.
	err = db.QueryRow(ctx, q.tailSQL, q.args[:len(q.args)-1]...).Scan(&id, &durKey)
	if errors.Is(err, pgx.ErrNoRows) {
		return page, nil // the scan reached the end of the range
	}
	if err != nil {
		return store.Page{}, err
	}
	page.Next = store.RecordingCursor(q.byDuration, 0, id)
	if q.byDuration {
		page.Next = store.RecordingCursorKey(durKey, id)
	}
	return page, nil
}

type listQuery struct {
	sql        string // the page: up to limit+1 rows in page order
	tailSQL    string // with Text: the id and dur_key of the last row the scan may read
	args       []any
	limit      int
	byDuration bool
}

// buildList turns f into SQL (see ListRecordings).
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
	driven := false
	// eq adds an equality filter: the first one set drives through its
	// index. Under a user the others are index conditions too (the user
	// index holds their columns); otherwise they are checked on the rows
	// ("|| ''" hides their own indexes from the planner).
	eq := func(col, v string) {
		switch {
		case v == "":
		case !driven || f.User != "":
			where = append(where, col+" = "+arg(v))
			driven = true
		default:
			where = append(where, "("+col+" || '') = "+arg(v))
		}
	}
	eq("user_name", f.User)
	target := ""
	if f.Target != "" {
		target = arg(f.Target)
		if driven {
			where = append(where, "(target_alias = "+target+" OR target_host = "+target+")")
			target = ""
		} else {
			driven = true
		}
	}
	eq("remote_user", f.RemoteUser)
	eq("status", string(f.Status))
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
	// source returns the rows of the range in page order, at most n.
	source := func(cols string, n int) string {
		lim := " ORDER BY " + order + " LIMIT " + strconv.Itoa(n)
		if target == "" {
			return `SELECT ` + cols + ` FROM recordings WHERE ` + and(where) + lim
		}
		alias := append([]string{"target_alias = " + target}, where...)
		host := append([]string{"target_host = " + target, "target_alias <> " + target}, where...)
		return `SELECT ` + cols + ` FROM ((SELECT ` + cols + ` FROM recordings WHERE ` + and(alias) + lim + `)
			UNION ALL (SELECT ` + cols + ` FROM recordings WHERE ` + and(host) + lim + `)) u` + lim
	}
	if f.Text == "" {
		q.sql = source(recordingCols, q.limit+1)
		return q, nil
	}
	scan := textScanRows
	if driven {
		scan = textScanRowsIndexed
	}
	text := arg(strings.ToLower(f.Text))
	q.sql = `SELECT ` + recordingCols + ` FROM (` + source(recordingCols, scan) + `) s
		WHERE strpos(lower(title), ` + text + `) > 0 OR strpos(lower(command), ` + text + `) > 0
		ORDER BY ` + order + ` LIMIT ` + strconv.Itoa(q.limit+1)
	q.tailSQL = `SELECT id, dur_key FROM (` + source("id, dur_key", scan) + `) s
		ORDER BY ` + order + ` OFFSET ` + strconv.Itoa(scan-1) + ` LIMIT 1`
	return q, nil
}

// and joins conditions with AND ("TRUE" for none).
func and(conds []string) string {
	if len(conds) == 0 {
		return "TRUE"
	}
	return strings.Join(conds, " AND ")
}
