package store

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/jumpcast/jumpcast/internal/audit"
	"github.com/jumpcast/jumpcast/internal/recording"
)

func TestOpenLockedNamesFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "index.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}

	start := time.Now()
	_, err = Open(path, Options{Timeout: 200 * time.Millisecond})
	waited := time.Since(start)
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second open: %v, want ErrLocked", err)
	}
	if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "jumpcast serve") {
		t.Errorf("error %q should name the file and the likely holder", err)
	}
	if waited < 100*time.Millisecond || waited > 2*time.Second {
		t.Errorf("waited %v for a 200ms timeout", waited)
	}
}

func TestSchemaVersion(t *testing.T) {
	path := filepath.Join(t.TempDir(), "index.db")
	s, err := Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	if v, err := s.Version(context.Background()); err != nil || v != SchemaVersion {
		t.Fatalf("version %d, %v; want %d", v, err, SchemaVersion)
	}
	// A file from a newer jumpcast is refused, not misread.
	err = s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Put(keySchema, be64(SchemaVersion+1)) })
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(path, Options{NoSync: true}); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("open of a newer schema: %v", err)
	}
	// Reopening a current file keeps its data and version.
	path2 := filepath.Join(t.TempDir(), "index.db")
	s2, err := Open(path2, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	insertAll(t, s2, genRecordings(1, 3, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)))
	s2.Close()
	s3, err := Open(path2, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s3.Close()
	if st, _ := s3.Stats(context.Background()); st.Count != 3 {
		t.Errorf("after reopen: %d recordings, want 3", st.Count)
	}
}

func TestCreateFinishGet(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	start := time.Date(2026, 11, 24, 9, 30, 12, 345678000, time.FixedZone("CET", 3600))
	r := recording.Meta{
		ID: "20261124T083012.345678Z-3f9a1c2b", User: "alice", RemoteUser: "root", TargetAlias: "db1",
		TargetAddr: "10.0.0.1:22", Kind: "shell", Title: "root@db1 — alice", Width: 120, Height: 40,
		Start: start, Status: recording.StatusFinished, Path: "2026/11/24/20261124T083012.345678Z-3f9a1c2b.cast",
	}
	if err := s.CreateRecording(ctx, &r); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetRecording(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != recording.StatusActive || !got.Start.Equal(start) || got.Width != 120 || got.Title != r.Title {
		t.Errorf("after create: %+v", got)
	}
	if act, _ := s.ActiveRecordings(ctx); len(act) != 1 || act[0].ID != r.ID {
		t.Errorf("active: %+v", act)
	}
	if err := s.CreateRecording(ctx, &r); err == nil {
		t.Error("second create of the same id succeeded")
	}

	code := 3
	fin := *got
	fin.Status, fin.End, fin.ExitStatus, fin.FileSize, fin.SHA256 = "", start.Add(90*time.Second), &code, 4096, strings.Repeat("ab", 32)
	fin.BytesIn, fin.BytesOut = 10, 20
	if err := s.FinishRecording(ctx, &fin); err != nil {
		t.Fatal(err)
	}
	got, err = s.GetRecording(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != recording.StatusFinished || got.Duration != 90*time.Second || got.ExitStatus == nil || *got.ExitStatus != 3 ||
		got.FileSize != 4096 || got.BytesOut != 20 || !got.End.Equal(fin.End) {
		t.Errorf("after finish: %+v", got)
	}
	if act, _ := s.ActiveRecordings(ctx); len(act) != 0 {
		t.Errorf("still active: %+v", act)
	}
	// The finished row is found by its new status and duration, not the old ones.
	for _, f := range []Filter{{Status: recording.StatusFinished}, {Sort: "duration"}, {Target: "10.0.0.1"}, {Target: "db1"}} {
		p, err := s.ListRecordings(ctx, f)
		if err != nil || len(p.Items) != 1 || p.Items[0].Duration != 90*time.Second {
			t.Errorf("list %+v: %+v, %v", f, p, err)
		}
	}
	if p, _ := s.ListRecordings(ctx, Filter{Status: recording.StatusActive}); len(p.Items) != 0 {
		t.Errorf("stale status index: %+v", p.Items)
	}
	st, err := s.Stats(ctx)
	if err != nil || st.Count != 1 || st.TotalFileSize != 4096 || st.ByStatus[recording.StatusFinished] != 1 || len(st.ByStatus) != 1 {
		t.Errorf("stats %+v, %v", st, err)
	}

	if _, err := s.GetRecording(ctx, "20261124T083012.345678Z-00000000"); !errors.Is(err, ErrNotFound) {
		t.Errorf("get missing: %v", err)
	}
	if err := s.FinishRecording(ctx, &recording.Meta{ID: "20261124T083012.345678Z-00000000"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("finish missing: %v", err)
	}
	if err := s.DeleteRecording(ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteRecording(ctx, r.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("second delete: %v", err)
	}
	if st, _ := s.Stats(ctx); st.Count != 0 || st.TotalFileSize != 0 {
		t.Errorf("stats after delete: %+v", st)
	}
	for _, f := range []Filter{{}, {User: "alice"}, {Sort: "duration"}, {Target: "db1"}} {
		if p, _ := s.ListRecordings(ctx, f); len(p.Items) != 0 {
			t.Errorf("index entry left after delete for %+v", f)
		}
	}
}

func TestCreateRejectsBadIDs(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	for _, tc := range []struct{ name, id string }{
		{"empty", ""},
		{"traversal", "../../etc/passwd"},
		{"short", "20261124T093012Z-3f9a1c2b"},
		{"upper hex", "20261124T093012.345678Z-3F9A1C2B"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := s.CreateRecording(ctx, &recording.Meta{ID: tc.id}); err == nil {
				t.Errorf("id %q accepted", tc.id)
			}
		})
	}
	// The start must be the id's time, or time-range filters would lie.
	r := recording.Meta{ID: "20261124T093012.345678Z-3f9a1c2b", Start: time.Date(2026, 11, 24, 9, 30, 13, 0, time.UTC)}
	if err := s.CreateRecording(ctx, &r); err == nil || !strings.Contains(err.Error(), "recording.NewID") {
		t.Errorf("mismatched start: %v", err)
	}
	// A zero start is taken from the id.
	r.Start = time.Time{}
	if err := s.CreateRecording(ctx, &r); err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2026, 11, 24, 9, 30, 12, 345678000, time.UTC); !r.Start.Equal(want) {
		t.Errorf("start %v, want %v", r.Start, want)
	}
	if err := s.FinishRecording(ctx, &recording.Meta{ID: r.ID, Status: recording.StatusActive}); err == nil {
		t.Error("finish with status active accepted")
	}
}

func TestRecoverActive(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	rows := genRecordings(7, 40, time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
	insertAll(t, s, rows)
	var active []recording.Meta
	for _, r := range rows {
		if r.Status == recording.StatusActive {
			active = append(active, r)
		}
	}
	if len(active) < 2 {
		t.Fatalf("test data has %d active rows, want >= 2", len(active))
	}
	broken := active[0].ID
	code := 0
	n, err := s.RecoverActive(ctx, "", func(r recording.Meta) (Recovered, error) {
		if r.ID == broken {
			return Recovered{}, errors.New("open cast: no such file")
		}
		return Recovered{End: r.Start.Add(42 * time.Second), FileSize: 1000, SHA256: "ff", ExitStatus: &code}, nil
	})
	if err != nil || n != len(active) {
		t.Fatalf("recovered %d, %v; want %d", n, err, len(active))
	}
	for _, a := range active {
		got, err := s.GetRecording(ctx, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != recording.StatusInterrupted {
			t.Errorf("%s: status %s", a.ID, got.Status)
		}
		if a.ID == broken {
			if !strings.Contains(got.Error, "no such file") {
				t.Errorf("broken: error %q", got.Error)
			}
			continue
		}
		if got.Duration != 42*time.Second || got.FileSize != 1000 || got.SHA256 != "ff" || got.ExitStatus == nil {
			t.Errorf("%s: %+v", a.ID, got)
		}
	}
	if act, _ := s.ActiveRecordings(ctx); len(act) != 0 {
		t.Errorf("still active: %d", len(act))
	}
	if n, err := s.RecoverActive(ctx, "", nil); n != 0 || err != nil {
		t.Errorf("second recovery: %d, %v", n, err)
	}
}

func TestPurgeCandidates(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var rows []recording.Meta
	for i := range 10 { // one a day, 100 bytes each; day 2 and 7 still active
		r := recording.Meta{ID: recording.TimePrefix(base.AddDate(0, 0, i)) + "-0000000" + string(rune('0'+i)), FileSize: 100, Status: recording.StatusFinished}
		if i == 2 || i == 7 {
			r.Status, r.FileSize = recording.StatusActive, 0
		}
		rows = append(rows, r)
	}
	insertAll(t, s, rows)
	now := base.AddDate(0, 0, 10)
	ids := func(rs []recording.Meta) (out []int) {
		for _, r := range rs {
			out = append(out, int(r.ID[len(r.ID)-1]-'0'))
		}
		return out
	}
	for _, tc := range []struct {
		name     string
		maxAge   time.Duration
		maxTotal int64
		want     []int
	}{
		{"none", 0, 0, nil},
		{"age", 5*24*time.Hour + time.Hour, 0, []int{0, 1, 3, 4}},
		{"size", 0, 550, []int{0, 1, 3}},
		{"size within", 0, 800, nil},
		{"both", 8*24*time.Hour + time.Hour, 500, []int{0, 1, 3}},
		{"all but active", time.Hour, 0, []int{0, 1, 3, 4, 5, 6, 8, 9}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.PurgeCandidates(ctx, now, tc.maxAge, tc.maxTotal)
			if err != nil {
				t.Fatal(err)
			}
			if g := ids(got); !equalInts(g, tc.want) {
				t.Errorf("got %v, want %v", g, tc.want)
			}
		})
	}
	// The purge job removes the candidates in one transaction.
	got, err := s.PurgeCandidates(ctx, now, 0, 550)
	if err != nil {
		t.Fatal(err)
	}
	var del []string
	for _, r := range got {
		del = append(del, r.ID)
	}
	if n, err := s.DeleteRecordings(ctx, append(del, "20261124T093012.345678Z-00000000")); err != nil || n != len(del) {
		t.Fatalf("deleted %d, %v; want %d", n, err, len(del))
	}
	if st, _ := s.Stats(ctx); st.Count != 7 || st.TotalFileSize != 500 {
		t.Errorf("after purge: %+v", st)
	}
	if got, _ := s.PurgeCandidates(ctx, now, 0, 550); len(got) != 0 {
		t.Errorf("still over the size limit: %d candidates", len(got))
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestBackupIsAValidStore(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	rows := genRecordings(3, 200, time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC))
	insertAll(t, s, rows)
	if err := s.AppendAudit(ctx, audit.Event{Kind: audit.KindAuth, Outcome: audit.OutcomeAllowed, Who: audit.Who{User: "alice"}}); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	n, err := s.Backup(&buf)
	if err != nil || n != int64(buf.Len()) || n == 0 {
		t.Fatalf("backup: %d bytes (buffer %d), %v", n, buf.Len(), err)
	}
	path := filepath.Join(t.TempDir(), "backup.db")
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	b, err := Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	err = b.db.View(func(tx *bolt.Tx) error {
		var first error
		for err := range tx.Check() { // drain: Check's goroutine sends every error
			if first == nil {
				first = err
			}
		}
		return first
	})
	if err != nil {
		t.Fatalf("backup fails bbolt's consistency check: %v", err)
	}
	st, _ := b.Stats(ctx)
	if st.Count != len(rows) {
		t.Errorf("backup has %d recordings, want %d", st.Count, len(rows))
	}
	if ev, _, err := b.ListAudit(ctx, AuditFilter{}); err != nil || len(ev) != 1 {
		t.Errorf("backup audit: %v, %v", ev, err)
	}
	if _, err := b.GetRecording(ctx, rows[17].ID); err != nil {
		t.Error(err)
	}
}

func TestRowCodecRoundTrip(t *testing.T) {
	code := -1
	for _, r := range []recording.Meta{
		{ID: "20261124T093012.345678Z-3f9a1c2b", Path: "2026/11/24/20261124T093012.345678Z-3f9a1c2b.cast",
			SHA256: strings.Repeat("0f", 32), ExitStatus: &code, Start: time.Unix(1, 5).UTC(), End: time.Unix(9, 0).UTC(),
			Duration: 8 * time.Second, Title: "root@db1 — zoë", Width: 300, BytesOut: 1 << 40},
		{ID: "20261124T093012.345678Z-3f9a1c2b", Path: "elsewhere/x.cast", SHA256: strings.Repeat("0F", 32)},
		{ID: "20261124T093012.345678Z-3f9a1c2b", SHA256: "abc"},
	} {
		got, err := decodeRow(r.ID, encodeRow(&r))
		if err != nil {
			t.Fatal(err)
		}
		if got.Path != r.Path || got.SHA256 != r.SHA256 || got.Title != r.Title || got.Width != r.Width ||
			got.BytesOut != r.BytesOut || !got.Start.Equal(r.Start) || !got.End.Equal(r.End) || got.Duration != r.Duration ||
			(r.ExitStatus == nil) != (got.ExitStatus == nil) || r.ExitStatus != nil && *got.ExitStatus != *r.ExitStatus {
			t.Errorf("round trip:\n got %+v\nwant %+v", got, r)
		}
	}
	if _, err := decodeRow("x", []byte{9, 1, 2}); err == nil {
		t.Error("corrupt row decoded")
	}
}
