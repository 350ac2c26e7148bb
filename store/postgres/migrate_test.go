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

// A node older than the schema refuses to start and says what to do.
func TestMigrateRefusesNewerSchema(t *testing.T) {
	dsn := pgtest.DSN(t)
	s, err := postgres.Open(context.Background(), dsn, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_ = s.Close()
	newer := postgres.SchemaVersion() + 1
	if _, err := connect(t, dsn).Exec(context.Background(), `INSERT INTO jumpcast_schema (version, name) VALUES ($1, 'from the future')`, newer); err != nil {
		t.Fatal(err)
	}
	_, err = postgres.Open(context.Background(), dsn, postgres.Options{})
	if !errors.Is(err, postgres.ErrSchemaTooNew) || !strings.Contains(err.Error(), "upgrade") {
		t.Fatalf("open of a newer schema: %v", err)
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
