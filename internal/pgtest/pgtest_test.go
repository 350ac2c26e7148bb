package pgtest

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) { Main(m) }

// A fresh database per test answers, and a private server comes back on
// the same port after a restart.
func TestDatabaseAndRestart(t *testing.T) {
	ctx := context.Background()
	query := func(dsn string) error {
		c, err := pgx.Connect(ctx, dsn)
		if err != nil {
			return err
		}
		defer func() { _ = c.Close(ctx) }()
		var one int
		return c.QueryRow(ctx, "SELECT 1").Scan(&one)
	}
	if err := query(DSN(t)); err != nil {
		t.Fatal(err)
	}
	s := NewServer(t)
	dsn := s.NewDatabase(t)
	s.Stop()
	if err := query(dsn); err == nil {
		t.Fatal("a stopped server answered")
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	if err := query(dsn); err != nil {
		t.Fatalf("after restart: %v", err)
	}
}
