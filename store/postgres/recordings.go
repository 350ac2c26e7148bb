package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/jumpcast/jumpcast/internal/recording"
	"github.com/jumpcast/jumpcast/store"
)

// recordingCols lists a recording row's columns in the order scanRecording
// and recordingArgs use.
const recordingCols = `id, user_name, key_fingerprint, remote_user, target_alias, target_addr, target_host,
	client_addr, kind, command, command_len, title, term, width, height, start_ns, end_ns, duration_ns, dur_key,
	bytes_in, bytes_out, file_size, exit_status, exit_signal, status, error, path, sha256, node, location`

// recordingArgs returns r's column values in recordingCols order.
func recordingArgs(r *recording.Meta) []any {
	var end *int64
	if !r.End.IsZero() {
		ns := r.End.UnixNano()
		end = &ns
	}
	return []any{r.ID, r.User, r.KeyFingerprint, r.RemoteUser, r.TargetAlias, r.TargetAddr, store.TargetHost(r.TargetAddr),
		r.ClientAddr, r.Kind, r.Command, r.CommandLen, r.Title, r.Term, r.Width, r.Height, r.Start.UnixNano(), end,
		int64(r.Duration), store.DurationKey(r.Duration),
		r.BytesIn, r.BytesOut, r.FileSize, r.ExitStatus, r.ExitSignal, string(r.Status), r.Error, r.Path, r.SHA256, r.Node, r.Location}
}

// insertSQL inserts one row; $1… in recordingCols order.
const insertSQL = `INSERT INTO recordings (` + recordingCols + `) VALUES
	($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20,$21,$22,$23,$24,$25,$26,$27,$28,$29,$30)`

// updateSQL rewrites every column of the row $1.
const updateSQL = `UPDATE recordings SET user_name=$2, key_fingerprint=$3, remote_user=$4, target_alias=$5,
	target_addr=$6, target_host=$7, client_addr=$8, kind=$9, command=$10, command_len=$11, title=$12, term=$13,
	width=$14, height=$15, start_ns=$16, end_ns=$17, duration_ns=$18, dur_key=$19, bytes_in=$20, bytes_out=$21,
	file_size=$22, exit_status=$23, exit_signal=$24, status=$25, error=$26, path=$27, sha256=$28, node=$29, location=$30 WHERE id=$1`

// scanRecording reads one row selected with recordingCols (and nothing
// else unless extra names more destinations, scanned after it).
func scanRecording(row pgx.Row, extra ...any) (recording.Meta, error) {
	var r recording.Meta
	var targetHost, status string
	var start, dur, durKey int64
	var end *int64
	dest := []any{&r.ID, &r.User, &r.KeyFingerprint, &r.RemoteUser, &r.TargetAlias, &r.TargetAddr, &targetHost,
		&r.ClientAddr, &r.Kind, &r.Command, &r.CommandLen, &r.Title, &r.Term, &r.Width, &r.Height, &start, &end, &dur, &durKey,
		&r.BytesIn, &r.BytesOut, &r.FileSize, &r.ExitStatus, &r.ExitSignal, &status, &r.Error, &r.Path, &r.SHA256, &r.Node, &r.Location}
	if err := row.Scan(append(dest, extra...)...); err != nil {
		return recording.Meta{}, err
	}
	r.Start = time.Unix(0, start).UTC()
	if end != nil {
		r.End = time.Unix(0, *end).UTC()
	}
	r.Duration = time.Duration(dur)
	r.Status = recording.Status(status)
	return r, nil
}

// CreateRecording indexes a session that has just started, as
// store.Store.CreateRecording does.
func (s *Store) CreateRecording(ctx context.Context, r *recording.Meta) error {
	if err := store.PrepareCreate(r); err != nil {
		return err
	}
	if _, err := s.pool.Exec(ctx, insertSQL, recordingArgs(r)...); err != nil {
		if isUniqueViolation(err, "recordings_pkey") {
			return fmt.Errorf("create recording %s: already exists", r.ID)
		}
		return fmt.Errorf("create recording %s: %w", r.ID, unavailable(err))
	}
	return nil
}

// FinishRecording rewrites a recording's row when its session ends, as
// store.Store.FinishRecording does.
func (s *Store) FinishRecording(ctx context.Context, r *recording.Meta) error {
	if err := store.CheckFinish(r); err != nil {
		return err
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var startNS int64
		err := tx.QueryRow(ctx, `SELECT start_ns FROM recordings WHERE id = $1 FOR UPDATE`, r.ID).Scan(&startNS)
		if errors.Is(err, pgx.ErrNoRows) {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		if err := store.CompleteFinish(r, time.Unix(0, startNS).UTC()); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, updateSQL, recordingArgs(r)...)
		return err
	})
	if err != nil {
		return fmt.Errorf("finish recording %s: %w", r.ID, unavailable(err))
	}
	return nil
}

// SetRecordingLocation records where a finished recording's files are
// now, as store.Store.SetRecordingLocation does.
func (s *Store) SetRecordingLocation(ctx context.Context, id, location string) error {
	var status string
	err := s.pool.QueryRow(ctx, `UPDATE recordings SET location = $2 WHERE id = $1 AND status <> $3 RETURNING status`,
		id, location, string(recording.StatusActive)).Scan(&status)
	if errors.Is(err, pgx.ErrNoRows) {
		err = s.pool.QueryRow(ctx, `SELECT status FROM recordings WHERE id = $1`, id).Scan(&status)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			err = store.ErrNotFound
		case err == nil:
			err = store.ErrStillActive
		}
	}
	if err != nil {
		return fmt.Errorf("set location of recording %s: %w", id, unavailable(err))
	}
	return nil
}

// GetRecording returns one recording, or an error wrapping
// store.ErrNotFound.
func (s *Store) GetRecording(ctx context.Context, id string) (*recording.Meta, error) {
	r, err := scanRecording(s.pool.QueryRow(ctx, `SELECT `+recordingCols+` FROM recordings WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("get recording %s: %w", id, unavailable(err))
	}
	return &r, nil
}

// DeleteRecording removes a recording's row; store.ErrNotFound if absent.
func (s *Store) DeleteRecording(ctx context.Context, id string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM recordings WHERE id = $1`, id)
	if err == nil && tag.RowsAffected() == 0 {
		err = store.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("delete recording %s: %w", id, unavailable(err))
	}
	return nil
}

// DeleteRecordings removes several recordings in one statement, skipping
// absent ids, and returns how many rows it removed.
func (s *Store) DeleteRecordings(ctx context.Context, ids []string) (int, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM recordings WHERE id = ANY($1)`, ids)
	if err != nil {
		return 0, fmt.Errorf("delete %d recordings: %w", len(ids), unavailable(err))
	}
	return int(tag.RowsAffected()), nil
}

// ActiveRecordings returns the recordings whose status is active, oldest
// first (through the status index).
func (s *Store) ActiveRecordings(ctx context.Context) ([]recording.Meta, error) {
	out, err := s.queryRecordings(ctx, `SELECT `+recordingCols+` FROM recordings WHERE status = $1 ORDER BY id`, string(recording.StatusActive))
	if err != nil {
		return nil, fmt.Errorf("list active recordings: %w", unavailable(err))
	}
	return out, nil
}

func (s *Store) queryRecordings(ctx context.Context, sql string, args ...any) ([]recording.Meta, error) {
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []recording.Meta
	for rows.Next() {
		r, err := scanRecording(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// Stats returns the counters the stats trigger keeps.
func (s *Store) Stats(ctx context.Context) (store.Stats, error) {
	st := store.Stats{ByStatus: map[recording.Status]int{}}
	rows, err := s.pool.Query(ctx, `SELECT status, n, file_size FROM recording_stats`)
	if err != nil {
		return store.Stats{}, fmt.Errorf("read index stats: %w", unavailable(err))
	}
	defer rows.Close()
	for rows.Next() {
		var status string
		var n, size int64
		if err := rows.Scan(&status, &n, &size); err != nil {
			return store.Stats{}, fmt.Errorf("read index stats: %w", unavailable(err))
		}
		if n != 0 {
			st.ByStatus[recording.Status(status)] = int(n)
			st.Count += int(n)
		}
		st.TotalFileSize += size
	}
	if err := rows.Err(); err != nil {
		return store.Stats{}, fmt.Errorf("read index stats: %w", unavailable(err))
	}
	return st, nil
}

// RecoverActive marks the recordings node left active as interrupted, and
// repairs those marked while it was silent, as store.Store.RecoverActive
// does: other nodes' live recordings are left
// alone. A row finished or deleted meanwhile is left alone.
func (s *Store) RecoverActive(ctx context.Context, node string, fn store.RecoverFunc) (int, error) {
	all, err := s.ActiveRecordings(ctx)
	if err != nil {
		return 0, fmt.Errorf("recover active recordings: %w", unavailable(err))
	}
	active := store.OwnedBy(all, node)
	marked, err := s.queryRecordings(ctx, `SELECT `+recordingCols+` FROM recordings WHERE status = $1 AND error = $2 AND node = $3 ORDER BY id`,
		string(recording.StatusInterrupted), store.SilentNodeError, node)
	if err != nil {
		return 0, fmt.Errorf("recover active recordings: %w", unavailable(err))
	}
	active = append(active, marked...)
	store.ApplyRecovered(active, fn)
	n := 0
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		n = 0
		for i := range active {
			args := recordingArgs(&active[i])
			tag, err := tx.Exec(ctx, updateSQL+` AND (status = 'active' OR status = 'interrupted' AND error = $31)`, append(args, store.SilentNodeError)...)
			if err != nil {
				return err
			}
			n += int(tag.RowsAffected())
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("recover active recordings: %w", unavailable(err))
	}
	return n, nil
}

// SealSilentRecording records the file made of a lost node's parts, as
// store.Store.SealSilentRecording does: one conditional UPDATE, so that
// the owner's repair, if it came first, is never overwritten.
func (s *Store) SealSilentRecording(ctx context.Context, id string, size int64, sha256, location string) (bool, error) {
	tag, err := s.pool.Exec(ctx, `UPDATE recordings SET file_size = $2, sha256 = $3, location = $4
		WHERE id = $1 AND status = $5 AND error = $6 AND sha256 = ''`,
		id, size, sha256, location, string(recording.StatusInterrupted), store.SilentNodeError)
	if err != nil {
		return false, fmt.Errorf("seal recording %s of a silent node: %w", id, unavailable(err))
	}
	return tag.RowsAffected() == 1, nil
}

// PurgeCandidates returns what retention removes, as
// store.Store.PurgeCandidates does: rows in start order, read a batch at a
// time.
func (s *Store) PurgeCandidates(ctx context.Context, now time.Time, maxAge time.Duration, maxTotal int64) ([]recording.Meta, error) {
	if maxAge <= 0 && maxTotal <= 0 {
		return nil, nil
	}
	st, err := s.Stats(ctx)
	if err != nil {
		return nil, fmt.Errorf("purge candidates: %w", unavailable(err))
	}
	sel := store.NewPurgeSelector(st, now, maxAge, maxTotal)
	after := ""
	for {
		batch, err := s.queryRecordings(ctx, `SELECT `+recordingCols+` FROM recordings WHERE id > $1 ORDER BY id LIMIT 1000`, after)
		if err != nil {
			return nil, fmt.Errorf("purge candidates: %w", unavailable(err))
		}
		for i := range batch {
			if !sel.Add(&batch[i]) {
				return sel.Out, nil
			}
		}
		if len(batch) < 1000 {
			return sel.Out, nil
		}
		after = batch[len(batch)-1].ID
	}
}

// InterruptSilentNode marks node's active recordings interrupted when its
// heartbeat is older than silentFor by the database's clock, as
// store.Store.InterruptSilentNode does. The node's registry row is locked
// (FOR UPDATE) for the transaction, so nodes sweeping at once take turns,
// and the later one finds no active row left: each row is changed and
// returned once.
func (s *Store) InterruptSilentNode(ctx context.Context, node string, silentFor time.Duration) ([]recording.Meta, error) {
	var out []recording.Meta
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		out = nil
		var hb time.Time
		err := tx.QueryRow(ctx, `SELECT heartbeat FROM nodes WHERE id = $1 AND heartbeat < now() - $2 * interval '1 microsecond' FOR UPDATE`,
			node, silentFor.Microseconds()).Scan(&hb)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil // alive, or not registered
		}
		if err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT `+recordingCols+` FROM recordings WHERE status = $1 AND node = $2 ORDER BY id FOR UPDATE`,
			string(recording.StatusActive), node)
		if err != nil {
			return err
		}
		active, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (recording.Meta, error) { return scanRecording(row) })
		if err != nil {
			return err
		}
		for i := range active {
			store.MarkSilent(&active[i], hb)
			if _, err := tx.Exec(ctx, updateSQL, recordingArgs(&active[i])...); err != nil {
				return err
			}
		}
		out = active
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("interrupt recordings of silent node %s: %w", node, unavailable(err))
	}
	return out, nil
}
