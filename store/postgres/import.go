package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/jumpcast/jumpcast/store"
)

// ImportCount is what Import did with one kind of row.
type ImportCount struct {
	Kind    string // "recordings", "accounts", …
	Source  int    // rows in the source index
	Copied  int    // rows inserted by this run
	Present int    // source rows found in PostgreSQL afterwards (Source when all went over)
}

// ErrImportIncomplete is wrapped by Import when, after copying, some
// source rows are not in PostgreSQL.
var ErrImportIncomplete = errors.New("not every row is in PostgreSQL after the copy")

// Import copies everything src holds into s, keeping ids, times,
// credential versions and audit event ids, and returns the counts per
// kind of row: recordings, accounts, API tokens, second factors, audit
// events, locks and pinned host keys (the node registry is not copied: nodes register
// themselves). Rows already in s are left as they are, so running it again
// copies nothing new. It then checks that every source row is in s
// (ErrImportIncomplete otherwise). An audit event id that s already uses
// for another event is an error: import into a database no node has used.
func (s *Store) Import(ctx context.Context, src store.Index) ([]ImportCount, error) {
	steps := []struct {
		kind string
		fn   func(context.Context, store.Index, *ImportCount) error
	}{
		{"recordings", s.importRecordings},
		{"accounts", s.importAccounts},
		{"api tokens", s.importTokens},
		{"second factors", s.importSecondFactors},
		{"audit events", s.importAudit},
		{"locks", s.importLocks},
		{"pinned host keys", s.importPins},
	}
	var out []ImportCount
	for _, st := range steps {
		c := ImportCount{Kind: st.kind}
		if err := st.fn(ctx, src, &c); err != nil {
			return out, fmt.Errorf("import %s: %w", st.kind, err)
		}
		out = append(out, c)
		if c.Present != c.Source {
			return out, fmt.Errorf("import %s: %w: %d of %d", st.kind, ErrImportIncomplete, c.Present, c.Source)
		}
	}
	return out, nil
}

// execBatch sends one statement per args in one round trip and adds the
// rows they inserted to c.Copied.
func (s *Store) execBatch(ctx context.Context, sql string, args [][]any, c *ImportCount) error {
	if len(args) == 0 {
		return nil
	}
	var b pgx.Batch
	for _, a := range args {
		b.Queue(sql, a...)
	}
	res := s.pool.SendBatch(ctx, &b)
	for range args {
		tag, err := res.Exec()
		if err != nil {
			_ = res.Close()
			return err
		}
		c.Copied += int(tag.RowsAffected())
	}
	return res.Close()
}

// copyRows inserts rows (one statement per args, conflicts left as they
// are) and counts, by keys, how many of them PostgreSQL then holds: both
// into c, with the keys added to c.Source.
func (s *Store) copyRows(ctx context.Context, c *ImportCount, insert string, args [][]any, present string, keys []string) error {
	c.Source += len(keys)
	if err := s.execBatch(ctx, insert, args, c); err != nil {
		return err
	}
	return s.countPresent(ctx, present, keys, c)
}

// countPresent adds to c.Present how many of keys the query finds; query
// takes the keys as $1 (an array) and returns one count.
func (s *Store) countPresent(ctx context.Context, query string, keys any, c *ImportCount) error {
	var n int
	if err := s.pool.QueryRow(ctx, query, keys).Scan(&n); err != nil {
		return err
	}
	c.Present += n
	return nil
}

func (s *Store) importRecordings(ctx context.Context, src store.Index, c *ImportCount) error {
	f := store.Filter{Asc: true, Limit: store.MaxLimit}
	for {
		page, err := src.ListRecordings(ctx, f)
		if err != nil {
			return err
		}
		args := make([][]any, len(page.Items))
		ids := make([]string, len(page.Items))
		for i := range page.Items {
			args[i], ids[i] = recordingArgs(&page.Items[i]), page.Items[i].ID
		}
		if err := s.copyRows(ctx, c, insertSQL+` ON CONFLICT (id) DO NOTHING`, args,
			`SELECT count(*) FROM recordings WHERE id = ANY($1)`, ids); err != nil {
			return err
		}
		if page.Next == "" {
			return nil
		}
		f.Cursor = page.Next
	}
}

func (s *Store) importAccounts(ctx context.Context, src store.Index, c *ImportCount) error {
	accounts, err := src.ListAccounts(ctx)
	if err != nil {
		return err
	}
	var args [][]any
	var names []string
	for _, a := range accounts {
		args = append(args, []any{a.Name, a.PasswordHash, a.Role, a.Created.UnixNano(), a.CredentialVersion})
		names = append(names, a.Name)
	}
	if err := s.copyRows(ctx, c, `INSERT INTO accounts (`+accountCols+`) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name) DO NOTHING`, args,
		`SELECT count(*) FROM accounts WHERE name = ANY($1)`, names); err != nil {
		return err
	}
	// New versions must stay above every imported one.
	_, err = s.pool.Exec(ctx, `SELECT setval('credential_version',
		greatest((SELECT last_value FROM credential_version), (SELECT coalesce(max(credential_version), 1) FROM accounts)))`)
	return err
}

func (s *Store) importTokens(ctx context.Context, src store.Index, c *ImportCount) error {
	tokens, err := src.ListTokens(ctx)
	if err != nil {
		return err
	}
	var args [][]any
	var ids []string
	for _, t := range tokens {
		args = append(args, []any{t.ID, t.Hash, t.Owner, t.Name, t.Created.UnixNano()})
		ids = append(ids, t.ID)
	}
	return s.copyRows(ctx, c, `INSERT INTO api_tokens (`+tokenCols+`) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING`, args,
		`SELECT count(*) FROM api_tokens WHERE id = ANY($1)`, ids)
}

// importSecondFactors copies the accounts' second factors: an account
// that had one must not come out of the move with its password alone.
func (s *Store) importSecondFactors(ctx context.Context, src store.Index, c *ImportCount) error {
	accounts, err := src.ListAccounts(ctx)
	if err != nil {
		return err
	}
	var args [][]any
	var names []string
	for _, a := range accounts {
		f, err := src.GetSecondFactor(ctx, a.Name)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		data, err := json.Marshal(f)
		if err != nil {
			return err
		}
		args = append(args, []any{f.Account, data})
		names = append(names, f.Account)
	}
	return s.copyRows(ctx, c, `INSERT INTO second_factors (account, data) VALUES ($1, $2) ON CONFLICT (account) DO NOTHING`, args,
		`SELECT count(*) FROM second_factors WHERE account = ANY($1)`, names)
}

func (s *Store) importAudit(ctx context.Context, src store.Index, c *ImportCount) error {
	f := store.AuditFilter{Limit: store.MaxLimit}
	for {
		evs, next, err := src.ListAudit(ctx, f)
		if err != nil {
			return err
		}
		var args [][]any
		var keys []string // "id/time_ns": present only when both match
		for _, ev := range evs {
			id := ev.ID
			ev.ID = 0
			data, err := json.Marshal(&ev)
			if err != nil {
				return err
			}
			args = append(args, []any{int64(id), ev.Time.UnixNano(), string(ev.Kind), ev.User, string(data)})
			keys = append(keys, fmt.Sprintf("%d/%d", id, ev.Time.UnixNano()))
		}
		if err := s.copyRows(ctx, c, `INSERT INTO audit_events (id, time_ns, kind, user_name, event) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (id) DO NOTHING`, args, `SELECT count(*) FROM audit_events WHERE id || '/' || time_ns = ANY($1)`, keys); err != nil {
			return err
		}
		if next == "" {
			break
		}
		f.Cursor = next
	}
	if c.Present != c.Source {
		return fmt.Errorf("%d audit event ids are used by other events in PostgreSQL: import into a database no node has used yet", c.Source-c.Present)
	}
	// New events get ids above the imported ones.
	_, err := s.pool.Exec(ctx, `SELECT setval(pg_get_serial_sequence('audit_events', 'id'), (SELECT max(id) FROM audit_events))
		WHERE EXISTS (SELECT 1 FROM audit_events)`)
	return err
}

func (s *Store) importLocks(ctx context.Context, src store.Index, c *ImportCount) error {
	locks, err := src.ListLocks(ctx)
	if err != nil {
		return err
	}
	var args [][]any
	var ids []string
	for _, l := range locks {
		data, err := json.Marshal(&l)
		if err != nil {
			return err
		}
		args = append(args, []any{l.ID, l.Created.UnixNano(), string(data)})
		ids = append(ids, l.ID)
	}
	return s.copyRows(ctx, c, `INSERT INTO locks (id, created_ns, lock) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING`, args,
		`SELECT count(*) FROM locks WHERE id = ANY($1)`, ids)
}

func (s *Store) importPins(ctx context.Context, src store.Index, c *ImportCount) error {
	pins, err := src.HostKeyPins(ctx)
	if err != nil {
		return err
	}
	c.Source = len(pins)
	var addrs []string
	for _, p := range pins {
		addrs = append(addrs, p.Addr)
	}
	var before int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM host_key_pins WHERE addr = ANY($1)`, addrs).Scan(&before); err != nil {
		return err
	}
	for _, p := range pins {
		if _, err := s.PinHostKey(ctx, p); err != nil {
			return err // a conflicting pin: the two indexes disagree on a host's key
		}
	}
	if err := s.countPresent(ctx, `SELECT count(*) FROM host_key_pins WHERE addr = ANY($1)`, addrs, c); err != nil {
		return err
	}
	c.Copied = c.Present - before
	return nil
}
