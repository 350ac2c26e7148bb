package postgres_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jumpcast/jumpcast/internal/pgtest"
	"github.com/jumpcast/jumpcast/store"
	"github.com/jumpcast/jumpcast/store/postgres"
)

// A pooled connection that the server ends (pg_ctl stop, a restart, an
// administrator's pg_terminate_backend) answers the next call with
// SQLSTATE 57P01 rather than a refused dial: that too is "index
// unavailable", in one short line that an admin's terminal may show.
func TestTerminatedConnectionIsUnavailable(t *testing.T) {
	dsn := pgtest.DSN(t)
	s, err := postgres.Open(context.Background(), dsn, postgres.Options{MaxConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	ctx := context.Background()
	if _, err := s.ListNodes(ctx); err != nil { // the pool's one connection is now open
		t.Fatal(err)
	}
	if _, err := connect(t, dsn).Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE datname = current_database() AND pid <> pg_backend_pid()`); err != nil {
		t.Fatal(err)
	}
	_, err = s.ListNodes(ctx)
	if !errors.Is(err, store.ErrUnavailable) || err.Error() != "list nodes: index unavailable: the database is restarting" {
		t.Fatalf("call on a terminated connection: %v", err)
	}
	if _, err := s.ListNodes(ctx); err != nil {
		t.Errorf("the next call, on a new connection: %v", err)
	}
}
