package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/jumpcast/jumpcast/internal/lock"
)

// ErrExists is wrapped by CreateLock for an id that is already taken.
var ErrExists = errors.New("already exists")

// Locks are few (tens, not thousands) and read whole: every node applies
// the complete list, so the API is create, delete and list, nothing that
// depends on bbolt's key order. A PostgreSQL backend (issue 17) implements
// the same three calls over a table keyed by id.
//
// How a running node learns of a lock: with this bbolt file, only the one
// process holding it writes locks (the CLI reaches a running server
// through its admin socket, the web site is the same process), so the
// writer applies the new list to its proxy as it writes it. With a shared
// database, other nodes must hear of it too: each node polls ListLocks
// every second (internal/bastion's keeper; cheap: the list is small) and
// applies the whole list again when its set of ids changed. Applying is
// idempotent, so a repeated poll costs nothing but the read.

// CreateLock stores l, which must be valid (lock.Lock.Validate) and carry
// its id; a zero Created is set to now. It fails with an error wrapping
// ErrExists when the id is taken: ids are random, so that means a bug or a
// replay, never a reason to overwrite.
func (s *Store) CreateLock(ctx context.Context, l lock.Lock) error {
	if l.ID == "" {
		return errors.New("create lock: empty id")
	}
	if err := l.Validate(); err != nil {
		return fmt.Errorf("create lock %s: %w", l.ID, err)
	}
	if l.Created.IsZero() {
		l.Created = time.Now().UTC()
	}
	data, err := json.Marshal(&l)
	if err != nil {
		return fmt.Errorf("create lock %s: %w", l.ID, err)
	}
	err = s.update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketLocks)
		if b.Get([]byte(l.ID)) != nil {
			return ErrExists
		}
		return b.Put([]byte(l.ID), data)
	})
	if err != nil {
		return fmt.Errorf("create lock %s: %w", l.ID, err)
	}
	return nil
}

// DeleteLock removes the lock id and returns it as it was, or an error
// wrapping ErrNotFound.
func (s *Store) DeleteLock(ctx context.Context, id string) (lock.Lock, error) {
	var l lock.Lock
	err := s.update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketLocks)
		if err := getJSON(b, []byte(id), &l); err != nil {
			return err
		}
		return b.Delete([]byte(id))
	})
	if err != nil {
		return lock.Lock{}, fmt.Errorf("delete lock %s: %w", id, err)
	}
	return l, nil
}

// ListLocks returns every lock, expired ones included, oldest first (ties
// by id).
func (s *Store) ListLocks(ctx context.Context) ([]lock.Lock, error) {
	out, err := listJSON[lock.Lock](s, ctx, bucketLocks, "lock")
	if err != nil {
		return nil, fmt.Errorf("list locks: %w", err)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Created.Equal(out[j].Created) {
			return out[i].Created.Before(out[j].Created)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}
