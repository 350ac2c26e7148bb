package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/jumpcast/jumpcast/store"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrationLock is the advisory lock key Open holds while it migrates:
// the first 8 bytes of "jumpcast" as an integer, unlikely to meet another
// application's key in a shared database.
const migrationLock = 0x6a756d7063617374

// ErrSchemaTooNew is wrapped by Open when the database was migrated by a
// newer jumpcast than this one.
var ErrSchemaTooNew = errors.New("database schema is newer than this jumpcast")

// Options tune Open. The zero value is right for production.
type Options struct {
	// MaxConns bounds the connection pool; zero means 16.
	MaxConns int32
	// ConnectTimeout bounds each new connection; zero means 5 seconds.
	ConnectTimeout time.Duration
}

// Store is the jumpcast index in PostgreSQL. It is safe for concurrent use.
type Store struct {
	pool    *pgxpool.Pool
	version int // schema version after Open's migrations
}

var _ store.Index = (*Store)(nil)

// Open connects to the database named by dsn (a PostgreSQL URL or
// key=value string, as libpq takes it) and brings its schema to the
// newest version this binary knows. It fails without writing anything
// when the database's schema is newer (ErrSchemaTooNew). Errors never
// contain the DSN's password.
func Open(ctx context.Context, dsn string, opt Options) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres index: bad store.dsn: %s", redactErr(err, dsn))
	}
	cfg.MaxConns = 16
	if opt.MaxConns > 0 {
		cfg.MaxConns = opt.MaxConns
	}
	cfg.ConnConfig.ConnectTimeout = 5 * time.Second
	if opt.ConnectTimeout > 0 {
		cfg.ConnConfig.ConnectTimeout = opt.ConnectTimeout
	}
	// A connection idle for a while is checked before use, so that the
	// first call after a database restart does not fail on a dead one.
	cfg.HealthCheckPeriod = 10 * time.Second
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres index %s: %w", where(cfg), err)
	}
	s := &Store{pool: pool}
	if s.version, err = s.migrate(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres index %s: %w", where(cfg), err)
	}
	return s, nil
}

// where names the database for messages: host, port and database only.
func where(cfg *pgxpool.Config) string {
	c := cfg.ConnConfig
	return fmt.Sprintf("%s:%d/%s", c.Host, c.Port, c.Database)
}

// redactErr returns err's text with the DSN's password, if any, masked
// (pgx already masks it in URLs; a key=value DSN is masked here).
func redactErr(err error, dsn string) string {
	msg := err.Error()
	for _, f := range strings.Fields(dsn) {
		if v, ok := strings.CutPrefix(f, "password="); ok && v != "" {
			msg = strings.ReplaceAll(msg, v, "xxxxx")
		}
	}
	return msg
}

// Close closes the pool, waiting for calls in flight.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// Version returns the schema version, read from the database (so it
// fails when the database does not answer).
func (s *Store) Version(ctx context.Context) (int, error) {
	var v int
	if err := s.pool.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM jumpcast_schema`).Scan(&v); err != nil {
		return 0, fmt.Errorf("schema version: %w", err)
	}
	return v, nil
}

// SchemaVersion is the newest schema this binary knows: the number of its
// last migration file.
func SchemaVersion() int {
	ms, err := migrations()
	if err != nil || len(ms) == 0 {
		return 0
	}
	return ms[len(ms)-1].version
}

type migration struct {
	version int
	name    string
	sql     string
	// readableBy is the oldest schema a running node may know and still
	// work after this migration: its version, unless the file's first
	// line says "-- readable-by: N" (an additive change: a new table, a
	// nullable column), which lets older nodes go on during a rolling
	// upgrade.
	readableBy int
}

// readableByPrefix starts a migration file whose change older nodes can
// live with.
const readableByPrefix = "-- readable-by: "

// migrations reads the embedded files NNN_name.sql in version order.
func migrations() ([]migration, error) {
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("migration file %s: want NNN_name.sql", e.Name())
		}
		b, err := migrationFiles.ReadFile("migrations/" + e.Name())
		if err != nil {
			return nil, err
		}
		m := migration{version: v, name: e.Name(), sql: string(b), readableBy: v}
		if first, _, _ := strings.Cut(m.sql, "\n"); strings.HasPrefix(first, readableByPrefix) {
			n, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(first, readableByPrefix)))
			if err != nil || n < 1 || n > v {
				return nil, fmt.Errorf("migration file %s: %q wants a version from 1 to %d", e.Name(), first, v)
			}
			m.readableBy = n
		}
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	for i, m := range out {
		if m.version != i+1 {
			return nil, fmt.Errorf("migration %s: versions must be 1, 2, 3… without gaps", m.name)
		}
	}
	return out, nil
}

// migrate applies the pending migrations under the advisory lock and
// returns the schema version.
func (s *Store) migrate(ctx context.Context) (int, error) {
	ms, err := migrations()
	if err != nil {
		return 0, err
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return 0, err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, int64(migrationLock)); err != nil {
		return 0, fmt.Errorf("take the migration lock: %w", err)
	}
	defer func() {
		// A fresh context: the lock must go even when ctx has ended.
		uctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := conn.Exec(uctx, `SELECT pg_advisory_unlock($1)`, int64(migrationLock)); err != nil {
			_ = conn.Conn().Close(uctx) // the session, and its lock, end with the connection
		}
	}()
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS jumpcast_schema (
		version integer PRIMARY KEY,
		name    text NOT NULL,
		applied timestamptz NOT NULL DEFAULT now())`); err != nil {
		return 0, fmt.Errorf("create jumpcast_schema: %w", err)
	}
	if _, err := conn.Exec(ctx, `ALTER TABLE jumpcast_schema ADD COLUMN IF NOT EXISTS readable_by integer`); err != nil {
		return 0, fmt.Errorf("extend jumpcast_schema: %w", err)
	}
	var current int
	if err := conn.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM jumpcast_schema`).Scan(&current); err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	newest := len(ms)
	if current > newest {
		// A newer node migrated: go on when every later migration says
		// nodes knowing this schema can read it.
		var needs int
		if err := conn.QueryRow(ctx, `SELECT coalesce(max(coalesce(readable_by, version)), 0) FROM jumpcast_schema WHERE version > $1`,
			newest).Scan(&needs); err != nil {
			return 0, fmt.Errorf("read schema version: %w", err)
		}
		if needs > newest {
			return 0, fmt.Errorf("%w: the database is at schema %d, which needs a jumpcast that knows schema %d; this one knows up to %d: upgrade this node's jumpcast",
				ErrSchemaTooNew, current, needs, newest)
		}
		return current, nil
	}
	for _, m := range ms[current:] {
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, m.sql); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO jumpcast_schema (version, name, readable_by) VALUES ($1, $2, $3)`,
				m.version, m.name, m.readableBy)
			return err
		})
		if err != nil {
			return 0, fmt.Errorf("apply migration %s: %w", m.name, err)
		}
		current = m.version
	}
	return current, nil
}

// isUniqueViolation reports whether err is PostgreSQL's unique_violation,
// optionally on the named constraint.
func isUniqueViolation(err error, constraint string) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505" && (constraint == "" || pe.ConstraintName == constraint)
}

// unavailable turns a failure to reach PostgreSQL into an error wrapping
// store.ErrUnavailable whose text is short and names no host, user or
// database ("index unavailable: connection refused"): it may reach an
// admin's terminal. Other errors are returned as they are.
func unavailable(err error) error {
	var ce *pgconn.ConnectError
	var ne net.Error
	var pe *pgconn.PgError
	switch {
	case err == nil, errors.Is(err, store.ErrUnavailable):
		return err
	case errors.As(err, &pe) && (strings.HasPrefix(pe.Code, "57P") || strings.HasPrefix(pe.Code, "08")):
		// The server is shutting down or restarting (admin_shutdown,
		// crash_shutdown, cannot_connect_now), or the connection broke: a
		// pooled connection gets this instead of a refused dial.
		return &unavailableError{cause: errors.New("the database is restarting"), err: err}
	case errors.As(err, &ce), errors.As(err, &ne), pgconn.SafeToRetry(err), errors.Is(err, io.ErrUnexpectedEOF):
		cause := err
		var se *os.SyscallError
		if errors.As(err, &se) {
			cause = se.Err
		} else if errors.As(err, &ne) && ne.Timeout() {
			cause = errors.New("timeout")
		} else if ce != nil {
			cause = errors.New("cannot connect")
		}
		return &unavailableError{cause: cause, err: err}
	}
	return err
}

// unavailableError is store.ErrUnavailable with a short cause.
type unavailableError struct {
	cause error // what the message says
	err   error // the whole error, for errors.Is/As
}

func (e *unavailableError) Error() string {
	return store.ErrUnavailable.Error() + ": " + e.cause.Error()
}
func (e *unavailableError) Unwrap() []error { return []error{store.ErrUnavailable, e.err} }
