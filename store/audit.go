package store

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/jumpcast/jumpcast/internal/audit"
)

// Audit keys are time (8 bytes: Unix nanoseconds with the sign bit flipped,
// so that they sort as bytes) then the event id (8 bytes): ordered by time,
// ties broken by arrival. The user and kind indexes are value \x00 key.
const auditKeyLen = 16

// costAuditRow is the budget cost of decoding one JSON audit row.
const costAuditRow = 30

func auditTimeKey(t time.Time) []byte {
	return be64(uint64(t.UnixNano()) ^ 1<<63)
}

func auditKey(t time.Time, id uint64) []byte {
	return append(auditTimeKey(t), be64(id)...)
}

// AppendAudit stores one audit event. The store assigns ev.ID (increasing,
// from the bucket's sequence) and sets ev.Time to now when it is zero.
// Concurrent calls share one transaction and one fsync (db.Batch), which is
// why a call can take up to the batch delay (2 ms, set in Open) longer.
func (s *Store) AppendAudit(ctx context.Context, ev audit.Event) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("append audit event: %w", err)
	}
	if ev.Time.IsZero() {
		ev.Time = time.Now()
	}
	// Batch may run this function more than once (when a batch-mate fails,
	// the whole transaction is retried); it only touches its own copy.
	err := s.db.Batch(func(tx *bolt.Tx) error {
		e := ev
		b := tx.Bucket(bucketAudit)
		id, err := b.NextSequence()
		if err != nil {
			return err
		}
		e.ID = id
		data, err := json.Marshal(&e)
		if err != nil {
			return err
		}
		key := auditKey(e.Time, id)
		if err := b.Put(key, data); err != nil {
			return err
		}
		if e.User != "" {
			if err := tx.Bucket(bucketAuditUser).Put(append([]byte(e.User+"\x00"), key...), []byte{}); err != nil {
				return err
			}
		}
		if e.Kind != "" {
			if err := tx.Bucket(bucketAuditKind).Put(append([]byte(string(e.Kind)+"\x00"), key...), []byte{}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("append audit event %s: %w", ev.Kind, err)
	}
	return nil
}

// AuditFilter selects audit events for ListAudit. The zero value lists
// every event, newest first, DefaultLimit per page.
type AuditFilter struct {
	Since, Until time.Time  // Time within [Since, Until); zero = unbounded
	Kind         audit.Kind // exact match; "" = any
	User         string     // exact match; "" = any
	Limit        int        // <= 0 means DefaultLimit, capped at MaxLimit
	Cursor       string     // the next cursor of the previous page; "" = first
}

// ListAudit returns one page of audit events, newest first, and the cursor
// of the next page ("" when there is none). The time range is a key range;
// Kind and User use their indexes (both together: a leapfrog intersection,
// as in ListRecordings). A page spends at most the same work budget as
// ListRecordings; a short page with a non-empty cursor means it ran out.
func (s *Store) ListAudit(ctx context.Context, f AuditFilter) ([]audit.Event, string, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	limit = min(limit, MaxLimit)
	var from []byte
	inclusive := true
	if f.Cursor != "" {
		ns, id, incl, err := ParseAuditCursor(f.Cursor)
		if err != nil {
			return nil, "", fmt.Errorf("list audit: %w", err)
		}
		from, inclusive = auditKey(time.Unix(0, ns), id), incl
	}
	var out []audit.Event
	var next string
	err := s.view(ctx, func(tx *bolt.Tx) error {
		var err error
		out, next, err = listAudit(tx, f, limit, from, inclusive, s.budget)
		return err
	})
	if err != nil {
		return nil, "", fmt.Errorf("list audit: %w", err)
	}
	return out, next, nil
}

func listAudit(tx *bolt.Tx, f AuditFilter, limit int, from []byte, inclusive bool, budget int) ([]audit.Event, string, error) {
	work := 0
	st := auditStream(tx, f, &work, budget)
	rows := tx.Bucket(bucketAudit)
	var out []audit.Event
	var last []byte
	pos, val, state := st.first(from, inclusive)
	for ; state == streamOK; pos, val, state = st.next() {
		if work >= budget && len(out) > 0 {
			state = streamOutOfBudget
			break
		}
		if len(out) == limit {
			return out, auditCursor(last, false), nil
		}
		work += costAuditRow
		if val == nil {
			val = rows.Get(pos)
		}
		if val == nil {
			return nil, "", fmt.Errorf("audit index entry %x has no event", pos)
		}
		var ev audit.Event
		if err := json.Unmarshal(val, &ev); err != nil {
			return nil, "", fmt.Errorf("audit event %d: %w", binary.BigEndian.Uint64(pos[8:]), err)
		}
		out = append(out, ev)
		last = pos
	}
	if state == streamOutOfBudget {
		return out, auditCursor(pos, true), nil
	}
	return out, "", nil
}

// auditStream plans an audit page: the events in the time range, through
// the user and/or kind index when those filters are set. Every position it
// yields matches the filter.
func auditStream(tx *bolt.Tx, f AuditFilter, work *int, budget int) stream {
	w := func(b, prefix []byte) *walker {
		wk := &walker{c: tx.Bucket(b).Cursor(), prefix: prefix, restLen: auditKeyLen, desc: true, work: work}
		if !f.Since.IsZero() {
			wk.lo = auditTimeKey(f.Since)
		}
		if !f.Until.IsZero() {
			wk.hi = auditTimeKey(f.Until)
		}
		return wk
	}
	var ws []*walker
	if f.User != "" {
		ws = append(ws, w(bucketAuditUser, []byte(f.User+"\x00")))
	}
	if f.Kind != "" {
		ws = append(ws, w(bucketAuditKind, []byte(string(f.Kind)+"\x00")))
	}
	switch len(ws) {
	case 0:
		wk := w(bucketAudit, nil)
		wk.rows = true
		return single{wk}
	case 1:
		return single{ws[0]}
	default:
		return &leapfrog{ws: ws, work: work, limit: budget}
	}
}

func auditCursor(pos []byte, inclusive bool) string {
	b := []byte{cursorVersion, 'a', 0}
	if inclusive {
		b[2] = 1
	}
	return base64.RawURLEncoding.EncodeToString(append(b, pos...))
}
