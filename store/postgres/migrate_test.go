package postgres_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/jumpcast/jumpcast/internal/pgtest"
	"github.com/jumpcast/jumpcast/store/postgres"
)

// Nodes starting at once on an empty database: each migration is applied
// once, and every node opens.
func TestMigrateConcurrentStart(t *testing.T) {
	dsn := pgtest.DSN(t)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			s, err := postgres.Open(context.Background(), dsn, postgres.Options{MaxConns: 2})
			if err != nil {
				t.Errorf("open: %v", err)
				return
			}
			_ = s.Close()
		})
	}
	wg.Wait()
	c := connect(t, dsn)
	var n, max int
	if err := c.QueryRow(context.Background(), `SELECT count(*), max(version) FROM jumpcast_schema`).Scan(&n, &max); err != nil {
		t.Fatal(err)
	}
	if n != postgres.SchemaVersion() || max != postgres.SchemaVersion() {
		t.Errorf("jumpcast_schema holds %d rows up to %d; want each of 1..%d once", n, max, postgres.SchemaVersion())
	}
}

// During a rolling upgrade a node older than the schema goes on when each
// newer migration says it is readable by the schema the node knows
// ("-- readable-by: N"), and refuses to start, saying what to do, when
// one is not.
func TestMigrateOlderNodeDuringRollingUpgrade(t *testing.T) {
	dsn := pgtest.DSN(t)
	s, err := postgres.Open(context.Background(), dsn, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_ = s.Close()
	c := connect(t, dsn)
	var readable int
	if err := c.QueryRow(context.Background(), `SELECT readable_by FROM jumpcast_schema WHERE version = 5`).Scan(&readable); err != nil || readable != 4 {
		t.Errorf("migration 005 (a nullable column) is readable by %d (%v), want 4", readable, err)
	}
	known := postgres.SchemaVersion()
	if _, err := c.Exec(context.Background(), `INSERT INTO jumpcast_schema (version, name, readable_by) VALUES ($1, 'additive, from the future', $2)`,
		known+1, known); err != nil {
		t.Fatal(err)
	}
	s, err = postgres.Open(context.Background(), dsn, postgres.Options{})
	if err != nil {
		t.Fatalf("open of a newer schema readable by this node's: %v", err)
	}
	if v, err := s.Version(context.Background()); err != nil || v != known+1 {
		t.Errorf("schema version %d (%v), want %d", v, err, known+1)
	}
	_ = s.Close()
	if _, err := c.Exec(context.Background(), `INSERT INTO jumpcast_schema (version, name) VALUES ($1, 'breaking, from the future')`, known+2); err != nil {
		t.Fatal(err)
	}
	_, err = postgres.Open(context.Background(), dsn, postgres.Options{})
	if !errors.Is(err, postgres.ErrSchemaTooNew) || !strings.Contains(err.Error(), "upgrade this node") {
		t.Fatalf("open of a schema this node cannot read: %v", err)
	}
}

// A DSN's password never shows in Open's errors.
func TestOpenErrorHidesPassword(t *testing.T) {
	srv := pgtest.Shared(t)
	for _, dsn := range []string{
		"postgres://jumpcast:s3cret-pw@127.0.0.1:1/nodb?sslmode=disable&connect_timeout=1",
		"host=127.0.0.1 port=1 user=jumpcast password=s3cret-pw dbname=nodb sslmode=disable connect_timeout=1",
		"postgres://jumpcast:s3cret-pw@127.0.0.1:" + strings.Split(strings.Split(srv.AdminDSN(), ":")[2], "/")[0] + "/no_such_db?sslmode=disable",
		"postgres://jumpcast:s3cret-pw@[::1:bad/x",
	} {
		_, err := postgres.Open(context.Background(), dsn, postgres.Options{})
		if err == nil {
			t.Fatalf("%s: opened", dsn)
		}
		if strings.Contains(err.Error(), "s3cret-pw") {
			t.Errorf("error shows the password: %v", err)
		}
	}
}

func connect(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c
}
