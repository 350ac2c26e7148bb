package postgres

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/jumpcast/jumpcast/internal/pgtest"
	"github.com/jumpcast/jumpcast/internal/recording"
	"github.com/jumpcast/jumpcast/store"
	"github.com/jumpcast/jumpcast/store/storetest"
)

const benchRows = 1_000_000

// benchStore returns the index of a PostgreSQL cluster kept in
// os.TempDir() between runs (keyed by schema version), holding benchRows
// generated recordings: the shape of store's BenchmarkList1M (300 users,
// 1,000 targets, about 900 sessions a day over three years). Only the first
// run pays for the fill, by COPY. It also returns the id in the middle.
func benchStore(b *testing.B) (*Store, recording.Meta) {
	b.Helper()
	bin := pgtest.Require(b)
	srv, err := pgtest.StartAt(bin, filepath.Join(os.TempDir(), fmt.Sprintf("jumpcast-bench-pg-s%d", SchemaVersion())))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(srv.Stop)
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, srv.AdminDSN())
	if err != nil {
		b.Fatal(err)
	}
	_, err = admin.Exec(ctx, `CREATE DATABASE bench TEMPLATE template0 ENCODING 'UTF8' LOCALE 'C.UTF-8'`)
	_ = admin.Close(ctx)
	if err != nil && !isDuplicateDatabase(err) {
		b.Fatal(err)
	}
	s, err := Open(ctx, strings.Replace(srv.AdminDSN(), "/postgres?", "/bench?", 1), Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	var n int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM recordings`).Scan(&n); err != nil {
		b.Fatal(err)
	}
	if n != benchRows {
		start := time.Now()
		if err := fillBench(ctx, s, benchRows); err != nil {
			b.Fatal(err)
		}
		b.Logf("filled %d rows in %v", benchRows, time.Since(start).Round(time.Second))
	}
	var size string
	_ = s.pool.QueryRow(ctx, `SELECT pg_size_pretty(pg_database_size('bench'))`).Scan(&size)
	b.Logf("database bench: %s", size)
	mid, err := scanRecording(s.pool.QueryRow(ctx, `SELECT `+recordingCols+` FROM recordings ORDER BY id OFFSET $1 LIMIT 1`, benchRows/2))
	if err != nil {
		b.Fatal(err)
	}
	return s, mid
}

func isDuplicateDatabase(err error) bool { return strings.Contains(err.Error(), "already exists") }

// fillBench empties the table and loads n generated rows with COPY, the
// stats trigger off (the counters are computed once at the end), then
// analyzes the table so the planner knows its shape.
func fillBench(ctx context.Context, s *Store, n int) error {
	for _, q := range []string{`TRUNCATE recordings`, `TRUNCATE recording_stats`, `ALTER TABLE recordings DISABLE TRIGGER recording_stats_count`} {
		if _, err := s.pool.Exec(ctx, q); err != nil {
			return err
		}
	}
	cols := strings.Fields(strings.ReplaceAll(recordingCols, ",", " "))
	next := storetest.Generator(1, time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), 300, 1000, 190*time.Second)
	for done := 0; done < n; done += 100_000 {
		rows := make([][]any, min(100_000, n-done))
		for i := range rows {
			r := next()
			rows[i] = recordingArgs(&r)
		}
		if _, err := s.pool.CopyFrom(ctx, pgx.Identifier{"recordings"}, cols, pgx.CopyFromRows(rows)); err != nil {
			return err
		}
	}
	for _, q := range []string{
		`INSERT INTO recording_stats (status, n, file_size) SELECT status, count(*), sum(file_size) FROM recordings GROUP BY status`,
		`ALTER TABLE recordings ENABLE TRIGGER recording_stats_count`,
		`VACUUM ANALYZE recordings`,
	} {
		if _, err := s.pool.Exec(ctx, q); err != nil {
			return err
		}
	}
	return nil
}

// BenchmarkList1M is store's BenchmarkList1M on PostgreSQL: the latency
// of a first and a deep page of 50 recordings for each kind of filter, on
// one million rows. Goal: under 20 ms a page.
//
// Measured (2-core VM shared with other jobs, PostgreSQL 15 on loopback,
// warm cache, database 1.3 GB, filled by COPY in 1m41s), per page of 50:
// every single filter, the time range and the duration order 0.4-1.3 ms;
// user+target and user+status+remote 0.6-1.2 ms; duration with a target
// or a week 4-7 ms; text that matches often 1 ms; text that matches
// nothing 7-12 ms for a short page (8,000 rows read, 2,000 under a user)
// with a cursor to continue. GetRecording 0.5 ms, Stats 0.1 ms.
func BenchmarkList1M(b *testing.B) {
	s, mid := benchStore(b)
	ctx := context.Background()
	week := store.Filter{Since: mid.Start, Until: mid.Start.Add(7 * 24 * time.Hour)}
	cases := []struct {
		name string
		f    store.Filter
	}{
		{"none", store.Filter{}},
		{"user", store.Filter{User: "user150"}},
		{"user_common", store.Filter{User: "user001"}},
		{"target", store.Filter{Target: "srv0500"}},
		{"target_host", store.Filter{Target: "10.0.1.244"}},
		{"status", store.Filter{Status: recording.StatusFailed}},
		{"time_week", week},
		{"user_target", store.Filter{User: "user010", Target: "srv0020"}},
		{"user_status_remote", store.Filter{User: "user100", Status: recording.StatusFailed, RemoteUser: "postgres"}},
		{"text_common", store.Filter{Text: "syslog"}},
		{"text_rare", store.Filter{Text: "user299"}},
		{"text_none", store.Filter{Text: "no such words"}},
		{"user_text_none", store.Filter{User: "user001", Text: "no such words"}},
		{"duration", store.Filter{Sort: "duration"}},
		{"duration_user", store.Filter{Sort: "duration", User: "user150"}},
		{"duration_user_common", store.Filter{Sort: "duration", User: "user001"}},
		{"duration_status", store.Filter{Sort: "duration", Status: recording.StatusFailed}},
		{"duration_target", store.Filter{Sort: "duration", Target: "srv0001"}},
		{"duration_week", store.Filter{Sort: "duration", Since: week.Since, Until: week.Until}},
	}
	for _, tc := range cases {
		for _, depth := range []string{"first", "deep"} {
			f := tc.f
			f.Limit = 50
			if depth == "deep" {
				switch {
				case f.Sort == "duration":
					f.Cursor = store.RecordingCursor(true, 100*time.Second, mid.ID)
				case !f.Since.IsZero():
					f.Cursor = store.RecordingCursor(false, 0, recording.TimePrefix(f.Since.Add(3*24*time.Hour))+"-00000000")
				default:
					f.Cursor = store.RecordingCursor(false, 0, mid.ID)
				}
			}
			b.Run(tc.name+"/"+depth, func(b *testing.B) {
				b.ReportAllocs()
				var items, short int
				for b.Loop() {
					p, err := s.ListRecordings(ctx, f)
					if err != nil {
						b.Fatal(err)
					}
					items += len(p.Items)
					if len(p.Items) < 50 && p.Next != "" {
						short++
					}
				}
				b.ReportMetric(float64(items)/float64(b.N), "items/op")
				b.ReportMetric(float64(short)/float64(b.N), "short/op")
			})
		}
	}
}

// BenchmarkOps1M: single-row reads and the stats at one million rows.
func BenchmarkOps1M(b *testing.B) {
	s, mid := benchStore(b)
	ctx := context.Background()
	b.Run("get", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.GetRecording(ctx, mid.ID); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("stats", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.Stats(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
}
