package store

import (
	"context"
	"encoding/binary"
	"fmt"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/jumpcast/jumpcast/internal/recording"
)

// SchemaVersion is the layout this code reads and writes. A file with a
// lower version is migrated by Open; a file with a higher version (written
// by a newer jumpcast) is refused rather than misread.
const SchemaVersion = 4

// keySchema holds the file's schema version (8 bytes, big-endian) in the
// meta bucket.
var keySchema = []byte("schema_version")

// migrations[v] upgrades a file from version v to v+1 inside Open's setup
// transaction, after every bucket of the current schema exists. Version 0 is
// a new, empty file: there is nothing to convert.
//
// Version 2 added the locks bucket (access locks, locks.go). setup creates
// it like every bucket; the version is raised all the same, so that a
// jumpcast older than locks refuses the file instead of running without
// the locks it holds. Version 3 added host_keys (pinned target host keys)
// and nodes (the node registry), for the same reason. Version 4 added
// second_factors: an older jumpcast would let a password alone in where a
// second factor is enrolled or required.
var migrations = []func(tx *bolt.Tx) error{
	0: func(*bolt.Tx) error { return nil },
	1: func(*bolt.Tx) error { return nil },
	2: func(*bolt.Tx) error { return nil },
	3: func(*bolt.Tx) error { return nil },
}

// setup creates the buckets and brings the schema to SchemaVersion. It runs
// in one write transaction: a crash leaves either the old file or the
// fully migrated one.
func setup(tx *bolt.Tx) error {
	for _, name := range allBuckets {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return fmt.Errorf("create bucket %s: %w", name, err)
		}
	}
	meta := tx.Bucket(bucketMeta)
	var version uint64
	if v := meta.Get(keySchema); v != nil {
		if len(v) != 8 {
			return fmt.Errorf("schema version: %d bytes, want 8", len(v))
		}
		version = binary.BigEndian.Uint64(v)
	}
	if version > SchemaVersion {
		return fmt.Errorf("schema version %d is newer than this jumpcast understands (%d): upgrade jumpcast", version, SchemaVersion)
	}
	for ; version < SchemaVersion; version++ {
		if err := migrations[version](tx); err != nil {
			return fmt.Errorf("migrate schema %d to %d: %w", version, version+1, err)
		}
	}
	return meta.Put(keySchema, be64(version))
}

// Version returns the schema version recorded in the file.
func (s *Store) Version(ctx context.Context) (int, error) {
	var v int
	err := s.view(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketMeta).Get(keySchema)
		if len(b) != 8 {
			return fmt.Errorf("schema version missing")
		}
		v = int(binary.BigEndian.Uint64(b))
		return nil
	})
	return v, err
}

// Stats summarises the recordings index. It is kept up to date by every
// write, so reading it costs a few key lookups, not a scan.
type Stats struct {
	Count         int                      // recordings of any status
	TotalFileSize int64                    // sum of Meta.FileSize
	ByStatus      map[recording.Status]int // count per Meta.Status; statuses with no rows are absent
}

// Stats keys: "size" is the total file size; "status:<s>" a count.
var keySize = []byte("size")

const statusKeyPrefix = "status:"

// Stats returns the counters of the recordings index.
func (s *Store) Stats(ctx context.Context) (Stats, error) {
	st := Stats{ByStatus: map[recording.Status]int{}}
	err := s.view(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketStats)
		return b.ForEach(func(k, v []byte) error {
			n := int64(binary.BigEndian.Uint64(v))
			switch {
			case string(k) == string(keySize):
				st.TotalFileSize = n
			case strings.HasPrefix(string(k), statusKeyPrefix):
				if n != 0 {
					st.ByStatus[recording.Status(k[len(statusKeyPrefix):])] = int(n)
					st.Count += int(n)
				}
			}
			return nil
		})
	})
	if err != nil {
		return Stats{}, fmt.Errorf("read index stats: %w", err)
	}
	return st, nil
}

// addStat adds delta to the counter k in the stats bucket.
func addStat(tx *bolt.Tx, k []byte, delta int64) error {
	if delta == 0 {
		return nil
	}
	b := tx.Bucket(bucketStats)
	var n int64
	if v := b.Get(k); len(v) == 8 {
		n = int64(binary.BigEndian.Uint64(v))
	}
	n += delta
	if n == 0 {
		return b.Delete(k)
	}
	return b.Put(k, be64(uint64(n)))
}

// be64 returns v as 8 big-endian bytes (a fresh slice: bbolt keeps the
// slices given to Put until the transaction ends).
func be64(v uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, v)
	return b
}
