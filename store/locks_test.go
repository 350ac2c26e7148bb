package store

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/jumpcast/jumpcast/internal/lock"
)

func TestLocks(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	t0 := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	a := lock.Lock{ID: "aaaa", Target: lock.Target{User: "alice"}, Reason: "incident 42", Created: t0.Add(time.Minute), CreatedBy: "admin carol"}
	b := lock.Lock{ID: "bbbb", Target: lock.Target{Target: "db1"}, Created: t0, Expires: t0.Add(2 * time.Hour)}
	for _, l := range []lock.Lock{a, b} {
		if err := s.CreateLock(ctx, l); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CreateLock(ctx, lock.Lock{ID: "aaaa", Target: lock.Target{User: "bob"}}); !errors.Is(err, ErrExists) {
		t.Errorf("a second lock with a taken id: %v, want ErrExists", err)
	}
	if err := s.CreateLock(ctx, lock.Lock{ID: "cccc"}); err == nil {
		t.Error("a lock naming nothing was stored")
	}
	got, err := s.ListLocks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].ID != "bbbb" || got[1].ID != "aaaa" || got[1].Reason != "incident 42" ||
		!got[0].Expires.Equal(b.Expires) || got[1].CreatedBy != "admin carol" {
		t.Fatalf("ListLocks, oldest first: %+v", got)
	}
	del, err := s.DeleteLock(ctx, "aaaa")
	if err != nil || del.Target.User != "alice" {
		t.Fatalf("DeleteLock: %+v, %v", del, err)
	}
	if _, err := s.DeleteLock(ctx, "aaaa"); !errors.Is(err, ErrNotFound) {
		t.Errorf("a second delete: %v, want ErrNotFound", err)
	}
	if got, _ := s.ListLocks(ctx); len(got) != 1 || got[0].ID != "bbbb" {
		t.Errorf("after delete: %+v", got)
	}
}

// TestLocksMigration: a version 1 file (before locks) opens as version 2
// with an empty locks bucket, and keeps its data.
func TestLocksMigration(t *testing.T) {
	path := filepath.Join(t.TempDir(), "index.db")
	s, err := Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := s.PutAccount(ctx, Account{Name: "carol", PasswordHash: "x", Role: RoleAdmin}); err != nil {
		t.Fatal(err)
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		if err := tx.DeleteBucket(bucketLocks); err != nil {
			return err
		}
		return tx.Bucket(bucketMeta).Put(keySchema, be64(1))
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if v, _ := s.Version(ctx); v != SchemaVersion {
		t.Errorf("version after migration: %d", v)
	}
	if l, err := s.ListLocks(ctx); err != nil || len(l) != 0 {
		t.Errorf("locks after migration: %v, %v", l, err)
	}
	if _, err := s.GetAccount(ctx, "carol"); err != nil {
		t.Errorf("account after migration: %v", err)
	}
}
