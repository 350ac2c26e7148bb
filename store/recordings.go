package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/jumpcast/jumpcast/internal/recording"
)

// CreateRecording indexes a session that has just started. r.ID must be a
// recording.NewID id made from r.Start (the time range filter relies on the
// id's time); a zero r.Start is taken from the id. The status is set to
// active whatever r.Status says. It fails if the id exists.
func (s *Store) CreateRecording(ctx context.Context, r *recording.Meta) error {
	if err := PrepareCreate(r); err != nil {
		return err
	}
	err := s.update(ctx, func(tx *bolt.Tx) error {
		if tx.Bucket(bucketRecordings).Get([]byte(r.ID)) != nil {
			return errors.New("already exists")
		}
		return writeRecording(tx, nil, r)
	})
	if err != nil {
		return fmt.Errorf("create recording %s: %w", r.ID, err)
	}
	return nil
}

// PrepareCreate checks and completes r for CreateRecording, in every
// backend: a zero Start is taken from the id, another Start must be the
// id's time, and the status becomes active.
func PrepareCreate(r *recording.Meta) error {
	idTime, err := recording.IDTime(r.ID)
	if err != nil {
		return fmt.Errorf("create recording: %w", err)
	}
	if r.Start.IsZero() {
		r.Start = idTime
	} else if !startMatchesID(r) {
		return fmt.Errorf("create recording %s: start %s does not match the id's time (make the id with recording.NewID(start))",
			r.ID, r.Start.UTC().Format(time.RFC3339Nano))
	}
	r.Status = recording.StatusActive
	return nil
}

// FinishRecording rewrites the row of a recording when its session ends,
// with its secondary indexes, in one transaction. r.Status must be
// finished, interrupted or failed; empty means finished. A zero r.Start
// keeps the stored one; a zero r.Duration with a non-zero r.End is computed
// as End-Start. It returns ErrNotFound if the recording was never created.
func (s *Store) FinishRecording(ctx context.Context, r *recording.Meta) error {
	if err := CheckFinish(r); err != nil {
		return err
	}
	err := s.update(ctx, func(tx *bolt.Tx) error {
		old, err := getRow(tx, r.ID)
		if err != nil {
			return err
		}
		if err := CompleteFinish(r, old.Start); err != nil {
			return err
		}
		return writeRecording(tx, old, r)
	})
	if err != nil {
		return fmt.Errorf("finish recording %s: %w", r.ID, err)
	}
	return nil
}

// CheckFinish checks r's status for FinishRecording, in every backend,
// before the row is read: empty becomes finished, and it must be final.
func CheckFinish(r *recording.Meta) error {
	if r.Status == "" {
		r.Status = recording.StatusFinished
	}
	if !r.Status.Final() {
		return fmt.Errorf("finish recording %s: status %q is not a final status", r.ID, r.Status)
	}
	return nil
}

// CompleteFinish completes r for FinishRecording once the stored row's
// start is known: a zero Start keeps it, another must be the id's time,
// and a zero Duration with an End after Start becomes End - Start.
func CompleteFinish(r *recording.Meta, storedStart time.Time) error {
	if r.Start.IsZero() {
		r.Start = storedStart
	} else if !startMatchesID(r) {
		return fmt.Errorf("start %s does not match the id's time", r.Start.UTC().Format(time.RFC3339Nano))
	}
	if r.Duration == 0 && !r.End.IsZero() && r.End.After(r.Start) {
		r.Duration = r.End.Sub(r.Start)
	}
	return nil
}

// startMatchesID reports whether r.Start is the time r.ID was made from (to
// the microsecond): the time range filter finds rows by their id's time.
func startMatchesID(r *recording.Meta) bool {
	return len(r.ID) >= recording.TimePrefixLen && recording.TimePrefix(r.Start) == r.ID[:recording.TimePrefixLen]
}

// GetRecording returns one recording, or an error wrapping ErrNotFound.
func (s *Store) GetRecording(ctx context.Context, id string) (*recording.Meta, error) {
	var r *recording.Meta
	err := s.view(ctx, func(tx *bolt.Tx) error {
		var err error
		r, err = getRow(tx, id)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("get recording %s: %w", id, err)
	}
	return r, nil
}

// SetRecordingLocation records where a finished recording's files are now
// (recording.LocationBucket once the uploader checked them there). It
// returns ErrNotFound if the row is absent and refuses an active row.
func (s *Store) SetRecordingLocation(ctx context.Context, id, location string) error {
	err := s.update(ctx, func(tx *bolt.Tx) error {
		old, err := getRow(tx, id)
		if err != nil {
			return err
		}
		if old.Status == recording.StatusActive {
			return ErrStillActive
		}
		r := *old
		r.Location = location
		return writeRecording(tx, old, &r)
	})
	if err != nil {
		return fmt.Errorf("set location of recording %s: %w", id, err)
	}
	return nil
}

// DeleteRecording removes a recording's row and index entries (not its
// file: the caller removes that first). It returns ErrNotFound if absent.
func (s *Store) DeleteRecording(ctx context.Context, id string) error {
	err := s.update(ctx, func(tx *bolt.Tx) error {
		old, err := getRow(tx, id)
		if err != nil {
			return err
		}
		return writeRecording(tx, old, nil)
	})
	if err != nil {
		return fmt.Errorf("delete recording %s: %w", id, err)
	}
	return nil
}

// DeleteRecordings removes several recordings in one transaction (one
// fsync), for the purge job: ids that are absent are skipped. It returns
// how many rows it removed.
func (s *Store) DeleteRecordings(ctx context.Context, ids []string) (int, error) {
	n := 0
	err := s.update(ctx, func(tx *bolt.Tx) error {
		n = 0
		for _, id := range ids {
			old, err := getRow(tx, id)
			if errors.Is(err, ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			if err := writeRecording(tx, old, nil); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("delete %d recordings: %w", len(ids), err)
	}
	return n, nil
}

// ActiveRecordings returns the recordings whose status is active, oldest
// first. Its cost is proportional to their number, not to the index size.
func (s *Store) ActiveRecordings(ctx context.Context) ([]recording.Meta, error) {
	var out []recording.Meta
	err := s.view(ctx, func(tx *bolt.Tx) error {
		var err error
		out, err = activeRows(tx)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list active recordings: %w", err)
	}
	return out, nil
}

func activeRows(tx *bolt.Tx) ([]recording.Meta, error) {
	var out []recording.Meta
	prefix := []byte(recording.StatusActive + "\x00")
	rows := tx.Bucket(bucketRecordings)
	c := tx.Bucket(bucketStatus).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		id := k[len(prefix):]
		if len(id) != recording.IDLen {
			continue
		}
		v := rows.Get(id)
		if v == nil {
			return nil, fmt.Errorf("index entry %q has no row", k)
		}
		r, err := decodeRow(string(id), v)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// getRow reads one row, copied out of the transaction.
func getRow(tx *bolt.Tx, id string) (*recording.Meta, error) {
	v := tx.Bucket(bucketRecordings).Get([]byte(id))
	if v == nil {
		return nil, ErrNotFound
	}
	r, err := decodeRow(id, v)
	if err != nil {
		return nil, err
	}
	return &r, nil
}

// writeRecording replaces the row old (nil: none) by r (nil: delete), with
// its index entries and the stats counters.
func writeRecording(tx *bolt.Tx, old, r *recording.Meta) error {
	rows := bucketFor(tx, bucketRecordings)
	if old != nil {
		for _, e := range indexEntries(old) {
			if err := tx.Bucket(e.bucket).Delete(e.key); err != nil {
				return err
			}
		}
		if err := addStat(tx, []byte(statusKeyPrefix+string(old.Status)), -1); err != nil {
			return err
		}
		if err := addStat(tx, keySize, -old.FileSize); err != nil {
			return err
		}
		if r == nil {
			return rows.Delete([]byte(old.ID))
		}
	}
	for _, e := range indexEntries(r) {
		if err := bucketFor(tx, e.bucket).Put(e.key, e.val); err != nil {
			return err
		}
	}
	if err := addStat(tx, []byte(statusKeyPrefix+string(r.Status)), 1); err != nil {
		return err
	}
	if err := addStat(tx, keySize, r.FileSize); err != nil {
		return err
	}
	return rows.Put([]byte(r.ID), encodeRow(r))
}

// appendFill is how full bbolt packs a page it splits, for the buckets
// whose keys arrive in order: the rows (ids grow with time) and the
// equality indexes (new keys go to the end of their value's range).
// bbolt's default of 0.5 would leave those pages half empty for good; the
// duration index, whose keys arrive in random order, keeps the default.
const appendFill = 0.9

// bucketFor returns the named bucket of a write transaction with its fill
// percent set (the setting lives on the transaction's bucket handle).
func bucketFor(tx *bolt.Tx, name []byte) *bolt.Bucket {
	b := tx.Bucket(name)
	if !bytes.Equal(name, bucketDuration) {
		b.FillPercent = appendFill
	}
	return b
}

type indexEntry struct {
	bucket, key, val []byte
}

// indexEntries lists the secondary index entries of r. Values of the
// equality indexes carry the duration so that a duration-sorted page can
// rank a small candidate set without reading rows. Empty values are not
// indexed (an empty filter value means "no filter").
func indexEntries(r *recording.Meta) []indexEntry {
	dur := be64(durKey(r.Duration))
	out := make([]indexEntry, 0, 6)
	add := func(b []byte, val string) {
		if val != "" {
			out = append(out, indexEntry{b, eqKey(val, r.ID), dur})
		}
	}
	add(bucketUser, r.User)
	add(bucketTarget, r.TargetAlias)
	if h := hostPart(r.TargetAddr); h != r.TargetAlias {
		add(bucketTarget, h)
	}
	add(bucketRemoteUser, r.RemoteUser)
	add(bucketStatus, string(r.Status))
	out = append(out, indexEntry{bucketDuration, append(copyBytes(dur), r.ID...), []byte{}})
	return out
}

// eqKey is an equality index key: value \x00 id.
func eqKey(val, id string) []byte {
	k := make([]byte, 0, len(val)+1+len(id))
	k = append(k, val...)
	k = append(k, 0)
	return append(k, id...)
}

// hostPart returns the host of a "host:port" or "[v6]:port" address, or
// addr itself when it has no port (like net.SplitHostPort, without
// allocating, for strings and row bytes alike).
func hostPart[T string | []byte](addr T) T {
	if len(addr) > 0 && addr[0] == '[' {
		for i := 1; i < len(addr); i++ {
			if addr[i] == ']' {
				return addr[1:i]
			}
		}
		return addr
	}
	colon := -1
	for i := 0; i < len(addr); i++ {
		if addr[i] == ':' {
			if colon >= 0 {
				return addr // a bare IPv6 address
			}
			colon = i
		}
	}
	if colon < 0 {
		return addr
	}
	return addr[:colon]
}
