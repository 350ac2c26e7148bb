package store

import (
	"context"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/jumpcast/jumpcast/internal/recording"
)

// Recovered is what the caller of RecoverActive learned from a recording's
// file after a crash.
type Recovered struct {
	End        time.Time // time of the file's last event; zero: unknown (End stays zero)
	FileSize   int64
	SHA256     string // hex SHA-256 of the file as found
	ExitStatus *int   // from a trailing "x" event, if any
}

// RecoverFunc inspects the file of a recording left active by a crash. The
// store calls it outside any transaction.
type RecoverFunc func(r recording.Meta) (Recovered, error)

// RecoverActive marks every recording still active as interrupted. It is
// meant for start-up, before sessions are accepted: fn is called once per
// row (outside any transaction) and its End, FileSize, SHA256 and
// ExitStatus are stored, with Duration = End - Start. When fn fails, the row
// is still marked interrupted, with fn's error in Meta.Error. All rows
// are rewritten in one transaction. It returns how many rows it changed.
func (s *Store) RecoverActive(ctx context.Context, fn RecoverFunc) (int, error) {
	active, err := s.ActiveRecordings(ctx)
	if err != nil {
		return 0, fmt.Errorf("recover active recordings: %w", err)
	}
	if len(active) == 0 {
		return 0, nil
	}
	for i := range active {
		if err := ctx.Err(); err != nil {
			return 0, fmt.Errorf("recover active recordings: %w", err)
		}
		r := &active[i]
		r.Status = recording.StatusInterrupted
		got, err := fn(*r)
		if err != nil {
			r.Error = fmt.Sprintf("recover after restart: %v", err)
			continue
		}
		r.End, r.FileSize, r.SHA256, r.ExitStatus = got.End, got.FileSize, got.SHA256, got.ExitStatus
		if !r.End.IsZero() && r.End.After(r.Start) {
			r.Duration = r.End.Sub(r.Start)
		}
	}
	n := 0
	err = s.update(ctx, func(tx *bolt.Tx) error {
		n = 0
		for i := range active {
			old, err := getRow(tx, active[i].ID)
			if err == ErrNotFound {
				continue // deleted meanwhile
			}
			if err != nil {
				return err
			}
			if old.Status != recording.StatusActive {
				continue // finished meanwhile
			}
			if err := writeRecording(tx, old, &active[i]); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("recover active recordings: %w", err)
	}
	return n, nil
}

// MaxPurgeBatch bounds how many rows one PurgeCandidates call returns, so
// that a first purge of a large, old store does not build a huge list or
// hold one long transaction. The purge job calls again until it gets none.
const MaxPurgeBatch = 10000

// PurgeCandidates returns the recordings that retention says to remove,
// oldest first, never active ones: those that started before now-maxAge
// (maxAge 0: no age limit), then, while the total file size still exceeds
// maxTotal (0: no size limit), the oldest of the rest. At most
// MaxPurgeBatch rows are returned. The caller removes the files, then the
// rows (DeleteRecordings: one transaction for the batch), and writes one
// audit event per purge.
func (s *Store) PurgeCandidates(ctx context.Context, now time.Time, maxAge time.Duration, maxTotal int64) ([]recording.Meta, error) {
	if maxAge <= 0 && maxTotal <= 0 {
		return nil, nil
	}
	st, err := s.Stats(ctx)
	if err != nil {
		return nil, fmt.Errorf("purge candidates: %w", err)
	}
	var excess int64
	if maxTotal > 0 {
		excess = st.TotalFileSize - maxTotal
	}
	var cutoff time.Time
	var cutoffPrefix string
	if maxAge > 0 {
		cutoff = now.Add(-maxAge)
		cutoffPrefix = recording.TimePrefix(cutoff)
	}
	var out []recording.Meta
	err = s.view(ctx, func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketRecordings).Cursor()
		var v rowView
		for k, val := c.First(); k != nil && len(out) < MaxPurgeBatch; k, val = c.Next() {
			beyondAge := maxAge <= 0 || string(k[:min(len(k), recording.TimePrefixLen)]) > cutoffPrefix
			if excess <= 0 && beyondAge {
				return nil
			}
			if err := v.parse(val); err != nil {
				return fmt.Errorf("recording %s: %w", k, err)
			}
			if string(v.s[fStatus]) == string(recording.StatusActive) {
				continue
			}
			if (maxAge > 0 && v.startTime().Before(cutoff)) || excess > 0 {
				out = append(out, v.recording(string(k)))
				excess -= v.ints[4]
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("purge candidates: %w", err)
	}
	return out, nil
}
