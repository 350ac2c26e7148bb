package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/jumpcast/jumpcast/internal/audit"
	"github.com/jumpcast/jumpcast/store"
)

// AppendAudit stores one audit event. The database assigns ev.ID (an
// identity column: increasing, unique across nodes); a zero ev.Time is
// set to now.
func (s *Store) AppendAudit(ctx context.Context, ev audit.Event) error {
	if ev.Time.IsZero() {
		ev.Time = time.Now()
	}
	ev.ID = 0
	data, err := json.Marshal(&ev)
	if err == nil {
		_, err = s.pool.Exec(ctx, `INSERT INTO audit_events (time_ns, kind, user_name, event) VALUES ($1, $2, $3, $4)`,
			ev.Time.UnixNano(), string(ev.Kind), ev.User, string(data))
	}
	if err != nil {
		return fmt.Errorf("append audit event %s: %w", ev.Kind, unavailable(err))
	}
	return nil
}

// ListAudit returns one page of audit events, newest first (ties by id),
// and the cursor of the next page ("" when there is none), as
// store.Store.ListAudit does. Each filter has an index in page order.
func (s *Store) ListAudit(ctx context.Context, f store.AuditFilter) ([]audit.Event, string, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = store.DefaultLimit
	}
	limit = min(limit, store.MaxLimit)
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if f.User != "" {
		where = append(where, "user_name = "+arg(f.User))
	}
	if f.Kind != "" {
		where = append(where, "kind = "+arg(string(f.Kind)))
	}
	if !f.Since.IsZero() {
		where = append(where, "time_ns >= "+arg(f.Since.UnixNano()))
	}
	if !f.Until.IsZero() {
		where = append(where, "time_ns < "+arg(f.Until.UnixNano()))
	}
	if f.Cursor != "" {
		ns, id, inclusive, err := store.ParseAuditCursor(f.Cursor)
		if err != nil {
			return nil, "", fmt.Errorf("list audit: %w", unavailable(err))
		}
		cmp := "<"
		if inclusive {
			cmp = "<="
		}
		where = append(where, "(time_ns, id) "+cmp+" ("+arg(ns)+", "+arg(int64(id))+")")
	}
	cond := "TRUE"
	if len(where) > 0 {
		cond = strings.Join(where, " AND ")
	}
	evs, err := queryAll(ctx, s, `SELECT id, event FROM audit_events WHERE `+cond+
		` ORDER BY time_ns DESC, id DESC LIMIT `+strconv.Itoa(limit+1), scanEvent, args...)
	if err != nil {
		return nil, "", fmt.Errorf("list audit: %w", unavailable(err))
	}
	if len(evs) <= limit {
		return evs, "", nil
	}
	evs = evs[:limit]
	last := evs[limit-1]
	return evs, store.AuditCursor(last.Time, last.ID), nil
}

func scanEvent(row pgx.Row) (audit.Event, error) {
	var id int64
	var data string
	var ev audit.Event
	if err := row.Scan(&id, &data); err != nil {
		return ev, err
	}
	if err := json.Unmarshal([]byte(data), &ev); err != nil {
		return ev, fmt.Errorf("audit event %d: %w", id, unavailable(err))
	}
	ev.ID = uint64(id)
	return ev, nil
}
