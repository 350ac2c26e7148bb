package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// ErrLocked is wrapped by Open when another process (or another Open in
// this process) holds the database file's lock for longer than
// Options.Timeout.
var ErrLocked = errors.New("database is locked")

// ErrInvalidFilter is wrapped by ListRecordings and ListAudit for a bad
// sort key or a cursor that this store did not make. A web handler maps it
// to 400 Bad Request.
var ErrInvalidFilter = errors.New("invalid filter")

// DefaultTimeout is how long Open waits for the file lock when
// Options.Timeout is zero.
const DefaultTimeout = time.Second

// Options tune Open. The zero value is right for production.
type Options struct {
	// Timeout is how long Open waits for the exclusive file lock before it
	// fails with ErrLocked. Zero means DefaultTimeout; it is never infinite,
	// because bbolt would then block forever on a file another jumpcast holds.
	Timeout time.Duration
	// NoSync skips fsync after each write transaction. A crash can then
	// lose or corrupt the index: only for tests and benchmarks.
	NoSync bool
}

// Store is the jumpcast index in one bbolt file. It is safe for concurrent
// use. The zero value is not usable: call Open.
type Store struct {
	db   *bolt.DB
	path string
	// budget and smallSet are pageBudget and smallSetMax, fields only so
	// that tests can shrink them to exercise short pages and the
	// duration-index walk on a small store. Set before use, never changed.
	budget, smallSet int
}

// Bucket names. Changing one is a schema change (see schema.go).
var (
	bucketMeta       = []byte("meta")
	bucketStats      = []byte("stats")
	bucketRecordings = []byte("recordings")
	bucketUser       = []byte("idx_user")
	bucketTarget     = []byte("idx_target")
	bucketRemoteUser = []byte("idx_remote_user")
	bucketStatus     = []byte("idx_status")
	bucketDuration   = []byte("idx_duration")
	bucketAudit      = []byte("audit")
	bucketAuditUser  = []byte("audit_user")
	bucketAuditKind  = []byte("audit_kind")
	bucketAccounts   = []byte("auditors") // named before roles other than auditor existed; kept so old files open
	bucketTokens     = []byte("tokens")
	bucketTokenHash  = []byte("token_hash")
	bucketLocks      = []byte("locks")
	bucketHostKeys   = []byte("host_keys")
	bucketNodes      = []byte("nodes")
	// bucketSecondFactors holds each local web account's SecondFactor (JSON), by name.
	bucketSecondFactors = []byte("second_factors")
)

// allBuckets lists every bucket of the current schema; Open creates the
// missing ones in its single setup transaction.
var allBuckets = [][]byte{
	bucketMeta, bucketStats, bucketRecordings,
	bucketUser, bucketTarget, bucketRemoteUser, bucketStatus, bucketDuration,
	bucketAudit, bucketAuditUser, bucketAuditKind,
	bucketAccounts, bucketTokens, bucketTokenHash,
	bucketLocks, bucketHostKeys, bucketNodes, bucketSecondFactors,
}

// Open opens (or creates, mode 0600) the index at path. It creates every
// bucket and runs pending schema migrations in one transaction. When
// another process holds the file, Open fails after opt.Timeout with an
// error that names the file and wraps ErrLocked.
func Open(path string, opt Options) (*Store, error) {
	timeout := opt.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout:      timeout,
		NoSync:       opt.NoSync,
		FreelistType: bolt.FreelistMapType, // O(1) page allocation in a large, churned file
	})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("open index %s: %w: another jumpcast process (a running `jumpcast serve`?) holds it; waited %s",
			path, ErrLocked, timeout)
	}
	if err != nil {
		return nil, fmt.Errorf("open index %s: %w", path, err)
	}
	// Audit events are appended through db.Batch on a session's critical
	// path (auth, policy): bbolt's default 10 ms batch delay put ~11 ms on
	// every login. 2 ms still gathers concurrent logins into one fsync.
	db.MaxBatchDelay = 2 * time.Millisecond
	if err := db.Update(setup); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open index %s: %w", path, err)
	}
	return &Store{db: db, path: path, budget: pageBudget, smallSet: smallSetMax}, nil
}

// Close releases the file and its lock. It waits for running transactions.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close index %s: %w", s.path, err)
	}
	return nil
}

// Path returns the file the store was opened from.
func (s *Store) Path() string { return s.path }

// Backup writes a consistent copy of the whole database to w while the
// store stays in use (a read transaction; writers are not blocked). The
// copy is itself a valid bbolt file that Open accepts. It returns the
// number of bytes written.
func (s *Store) Backup(w io.Writer) (int64, error) {
	var n int64
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		n, err = tx.WriteTo(w)
		return err
	})
	if err != nil {
		return n, fmt.Errorf("back up index %s: %w", s.path, err)
	}
	return n, nil
}

// view runs fn in a read transaction after checking ctx.
func (s *Store) view(ctx context.Context, fn func(*bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.db.View(fn)
}

// update runs fn in a write transaction after checking ctx.
func (s *Store) update(ctx context.Context, fn func(*bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.db.Update(fn)
}

// copyBytes returns a copy of b: slices from bbolt are valid only inside
// their transaction.
func copyBytes(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte(nil), b...)
}
