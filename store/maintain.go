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

// RecoverActive marks the recordings node left active (and those of no
// node, from before rows named one) as interrupted, and repairs those
// another node marked interrupted while node was silent
// (InterruptSilentNode); other nodes' live
// recordings in a shared index are left alone. It is meant for start-up, before sessions are accepted: fn is called once per
// row (outside any transaction) and its End, FileSize, SHA256 and
// ExitStatus are stored, with Duration = End - Start. When fn fails, the row
// is still marked interrupted, with fn's error in Meta.Error. All rows
// are rewritten in one transaction. It returns how many rows it changed.
func (s *Store) RecoverActive(ctx context.Context, node string, fn RecoverFunc) (int, error) {
	all, err := s.ActiveRecordings(ctx)
	if err != nil {
		return 0, fmt.Errorf("recover active recordings: %w", err)
	}
	active := OwnedBy(all, node)
	err = s.view(ctx, func(tx *bolt.Tx) error {
		marked, err := silentRows(tx, node)
		active = append(active, marked...)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("recover active recordings: %w", err)
	}
	if len(active) == 0 {
		return 0, nil
	}
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("recover active recordings: %w", err)
	}
	ApplyRecovered(active, fn)
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
			if !Repairable(old, node) {
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

// OwnedBy keeps the recordings node records, and those of no node (rows
// from before recordings named their node). Every backend's
// RecoverActive filters with it.
func OwnedBy(rs []recording.Meta, node string) []recording.Meta {
	var out []recording.Meta
	for _, r := range rs {
		if r.Node == "" || r.Node == node {
			out = append(out, r)
		}
	}
	return out
}

// ApplyRecovered marks each of active interrupted and fills in what fn
// learns from its file (End, FileSize, SHA256, ExitStatus and Duration =
// End - Start), or fn's error in Meta.Error. Every backend's RecoverActive
// calls it outside any transaction, then writes the rows that are still
// active.
func ApplyRecovered(active []recording.Meta, fn RecoverFunc) {
	for i := range active {
		r := &active[i]
		r.Status, r.Error = recording.StatusInterrupted, ""
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
	sel := NewPurgeSelector(st, now, maxAge, maxTotal)
	err = s.view(ctx, func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketRecordings).Cursor()
		var v rowView
		for k, val := c.First(); k != nil; k, val = c.Next() {
			if err := v.parse(val); err != nil {
				return fmt.Errorf("recording %s: %w", k, err)
			}
			take, more := sel.consider(string(k), v.startTime(), string(v.s[fStatus]) == string(recording.StatusActive), v.ints[4])
			if take {
				sel.Out = append(sel.Out, v.recording(string(k)))
			}
			if !more {
				return nil
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("purge candidates: %w", err)
	}
	return sel.Out, nil
}

// PurgeSelector applies PurgeCandidates' rule to rows offered in start
// order; every backend's PurgeCandidates uses one.
type PurgeSelector struct {
	// Out holds the rows selected so far, oldest first.
	Out          []recording.Meta
	maxAge       time.Duration
	cutoff       time.Time
	cutoffPrefix string
	excess       int64 // bytes still over maxTotal
}

// NewPurgeSelector starts a selection over an index whose counters are st.
func NewPurgeSelector(st Stats, now time.Time, maxAge time.Duration, maxTotal int64) *PurgeSelector {
	p := &PurgeSelector{maxAge: maxAge}
	if maxTotal > 0 {
		p.excess = st.TotalFileSize - maxTotal
	}
	if maxAge > 0 {
		p.cutoff = now.Add(-maxAge)
		p.cutoffPrefix = recording.TimePrefix(p.cutoff)
	}
	return p
}

// Add offers the next row in start order and reports whether to offer
// more: false once no later row can be selected or the batch is full.
func (p *PurgeSelector) Add(r *recording.Meta) bool {
	take, more := p.consider(r.ID, r.Start, r.Status == recording.StatusActive, r.FileSize)
	if take {
		p.Out = append(p.Out, *r)
	}
	return more
}

// consider decides on one row (take) and whether later rows may still be
// taken (more), counting a taken row's size off the excess.
func (p *PurgeSelector) consider(id string, start time.Time, active bool, size int64) (take, more bool) {
	beyondAge := p.maxAge <= 0 || id[:min(len(id), recording.TimePrefixLen)] > p.cutoffPrefix
	if p.excess <= 0 && beyondAge {
		return false, false
	}
	if !active && ((p.maxAge > 0 && start.Before(p.cutoff)) || p.excess > 0) {
		take = true
		p.excess -= size
	}
	return take, len(p.Out)+btoi(take) < MaxPurgeBatch
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
