package postgres_test

import (
	"context"
	"testing"

	"github.com/jumpcast/jumpcast/internal/pgtest"
	"github.com/jumpcast/jumpcast/store"
	"github.com/jumpcast/jumpcast/store/postgres"
	"github.com/jumpcast/jumpcast/store/storetest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// open opens a fresh database of the test binary's PostgreSQL.
func open(t *testing.T) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), pgtest.DSN(t), postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// TestContract runs the index contract suite against PostgreSQL.
func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Index { return open(t) })
}
