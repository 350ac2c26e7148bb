package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/jumpcast/jumpcast/internal/lock"
	"github.com/jumpcast/jumpcast/store"
)

// CreateLock stores l, as store.Store.CreateLock does: an id already
// taken fails with an error wrapping store.ErrExists.
func (s *Store) CreateLock(ctx context.Context, l lock.Lock) error {
	if l.ID == "" {
		return errors.New("create lock: empty id")
	}
	if err := l.Validate(); err != nil {
		return fmt.Errorf("create lock %s: %w", l.ID, unavailable(err))
	}
	if l.Created.IsZero() {
		l.Created = time.Now().UTC()
	}
	data, err := json.Marshal(&l)
	if err == nil {
		_, err = s.pool.Exec(ctx, `INSERT INTO locks (id, created_ns, lock) VALUES ($1, $2, $3)`, l.ID, l.Created.UnixNano(), string(data))
	}
	if isUniqueViolation(err, "locks_pkey") {
		err = store.ErrExists
	}
	if err != nil {
		return fmt.Errorf("create lock %s: %w", l.ID, unavailable(err))
	}
	return nil
}

// DeleteLock removes the lock id and returns it as it was, or an error
// wrapping store.ErrNotFound.
func (s *Store) DeleteLock(ctx context.Context, id string) (lock.Lock, error) {
	l, err := scanLock(s.pool.QueryRow(ctx, `DELETE FROM locks WHERE id = $1 RETURNING lock`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err != nil {
		return lock.Lock{}, fmt.Errorf("delete lock %s: %w", id, unavailable(err))
	}
	return l, nil
}

// ListLocks returns every lock, expired ones included, oldest first (ties
// by id).
func (s *Store) ListLocks(ctx context.Context) ([]lock.Lock, error) {
	out, err := queryAll(ctx, s, `SELECT lock FROM locks ORDER BY created_ns, id`, scanLock)
	if err != nil {
		return nil, fmt.Errorf("list locks: %w", unavailable(err))
	}
	return out, nil
}

func scanLock(row pgx.Row) (lock.Lock, error) {
	var data string
	var l lock.Lock
	if err := row.Scan(&data); err != nil {
		return l, err
	}
	return l, json.Unmarshal([]byte(data), &l)
}

// PinHostKey pins p.Key as p.Addr's host key unless the address has a pin
// already, as store.Store.PinHostKey does. Two nodes pinning at once
// agree: the first insert wins, and the other gets that pin back (and
// ErrPinConflict when its key differs).
func (s *Store) PinHostKey(ctx context.Context, p store.HostKeyPin) (store.HostKeyPin, error) {
	if err := store.CheckPin(&p); err != nil {
		return store.HostKeyPin{}, err
	}
	// Insert if absent and read what is there, in one round trip.
	got, err := scanPin(s.pool.QueryRow(ctx, `WITH ins AS (
			INSERT INTO host_key_pins (addr, key, type, created_ns) VALUES ($1, $2, $3, $4)
			ON CONFLICT (addr) DO NOTHING RETURNING addr, key, type, created_ns)
		SELECT addr, key, type, created_ns FROM ins
		UNION ALL SELECT addr, key, type, created_ns FROM host_key_pins WHERE addr = $1
		LIMIT 1`, p.Addr, p.Key, p.Type, p.Created.UnixNano()))
	if errors.Is(err, pgx.ErrNoRows) {
		// Another node's insert committed after this statement's snapshot
		// was taken: the conflict saw it, the read did not. Read it now.
		got, err = scanPin(s.pool.QueryRow(ctx, `SELECT addr, key, type, created_ns FROM host_key_pins WHERE addr = $1`, p.Addr))
	}
	if err != nil {
		return store.HostKeyPin{}, fmt.Errorf("pin host key of %s: %w", p.Addr, unavailable(err))
	}
	return got, store.PinConflict(got, p)
}

// HostKeyPins returns every pinned host key, by address.
func (s *Store) HostKeyPins(ctx context.Context) ([]store.HostKeyPin, error) {
	out, err := queryAll(ctx, s, `SELECT addr, key, type, created_ns FROM host_key_pins ORDER BY addr COLLATE "C"`, scanPin)
	if err != nil {
		return nil, fmt.Errorf("list host key pins: %w", unavailable(err))
	}
	return out, nil
}

// HostKeyPin returns addr's pin, or an error wrapping store.ErrNotFound.
func (s *Store) HostKeyPin(ctx context.Context, addr string) (store.HostKeyPin, error) {
	p, err := scanPin(s.pool.QueryRow(ctx, `SELECT addr, key, type, created_ns FROM host_key_pins WHERE addr = $1`, addr))
	if errors.Is(err, pgx.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err != nil {
		return store.HostKeyPin{}, fmt.Errorf("host key pin of %s: %w", addr, unavailable(err))
	}
	return p, nil
}

// DeleteHostKeyPin removes addr's pin and returns it, or an error wrapping
// store.ErrNotFound.
func (s *Store) DeleteHostKeyPin(ctx context.Context, addr string) (store.HostKeyPin, error) {
	p, err := scanPin(s.pool.QueryRow(ctx, `DELETE FROM host_key_pins WHERE addr = $1 RETURNING addr, key, type, created_ns`, addr))
	if errors.Is(err, pgx.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err != nil {
		return store.HostKeyPin{}, fmt.Errorf("delete host key pin of %s: %w", addr, unavailable(err))
	}
	return p, nil
}

func scanPin(row pgx.Row) (store.HostKeyPin, error) {
	var p store.HostKeyPin
	var created int64
	err := row.Scan(&p.Addr, &p.Key, &p.Type, &created)
	p.Created = time.Unix(0, created).UTC()
	return p, err
}

// RegisterNode creates or replaces the registry row n.ID, with Started and
// Heartbeat set to the database's clock.
func (s *Store) RegisterNode(ctx context.Context, n store.Node) error {
	if n.ID == "" {
		return errors.New("register node: empty id")
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO nodes (id, addr, version, host_keys, started, heartbeat) VALUES ($1, $2, $3, $4, now(), now())
		ON CONFLICT (id) DO UPDATE SET addr = EXCLUDED.addr, version = EXCLUDED.version, host_keys = EXCLUDED.host_keys,
		started = now(), heartbeat = now()`,
		n.ID, n.Addr, n.Version, n.HostKeys)
	if err != nil {
		return fmt.Errorf("register node %s: %w", n.ID, unavailable(err))
	}
	return nil
}

// NodeHeartbeat sets the node's Heartbeat to the database's clock, or
// fails with an error wrapping store.ErrNotFound.
func (s *Store) NodeHeartbeat(ctx context.Context, id string) error {
	tag, err := s.pool.Exec(ctx, `UPDATE nodes SET heartbeat = now() WHERE id = $1`, id)
	if err == nil && tag.RowsAffected() == 0 {
		err = store.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("heartbeat of node %s: %w", id, unavailable(err))
	}
	return nil
}

// ListNodes returns the registry, by id.
func (s *Store) ListNodes(ctx context.Context) ([]store.Node, error) {
	out, err := queryAll(ctx, s, `SELECT id, addr, version, host_keys, started, heartbeat FROM nodes ORDER BY id`, func(row pgx.Row) (store.Node, error) {
		var n store.Node
		err := row.Scan(&n.ID, &n.Addr, &n.Version, &n.HostKeys, &n.Started, &n.Heartbeat)
		n.Started, n.Heartbeat = n.Started.UTC(), n.Heartbeat.UTC()
		return n, err
	})
	if err != nil {
		return nil, fmt.Errorf("list nodes: %w", unavailable(err))
	}
	return out, nil
}
