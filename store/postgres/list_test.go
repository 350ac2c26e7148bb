package postgres

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/jumpcast/jumpcast/internal/pgtest"
	"github.com/jumpcast/jumpcast/internal/recording"
	"github.com/jumpcast/jumpcast/store"
	"github.com/jumpcast/jumpcast/store/storetest"
)

// A text search over more rows than one page may read: short pages with
// cursors, and paging still lists exactly the matches, in order.
func TestListTextScanBound(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, pgtest.DSN(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	const n = 3*textScanRows + 500
	if err := fillBench(ctx, s, n); err != nil {
		t.Fatal(err)
	}
	next := storetest.Generator(1, time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), 300, 1000, 190*time.Second)
	rows := make([]recording.Meta, n)
	for i := range rows {
		rows[i] = next()
	}
	for _, f := range []store.Filter{
		{Text: "no such words"},
		{Text: "user299"},
		{Text: "élan", Limit: 500},
		{Text: "syslog", Sort: "duration", Asc: true, Limit: 500},
		{Text: "pg_dump", Target: "srv0001", Limit: 20},
	} {
		got := storetest.PageAll(t, s, f)
		if want := storetest.Expected(rows, f); !slices.Equal(got, want) {
			t.Errorf("%+v: %d ids, want %d", f, len(got), len(want))
		}
	}
	p, err := s.ListRecordings(ctx, store.Filter{Text: "no such words"})
	if err != nil || len(p.Items) != 0 || p.Next == "" {
		t.Errorf("first page of a text that matches nothing: %d items, next %q, %v; want a short page with a cursor", len(p.Items), p.Next, err)
	}
}
