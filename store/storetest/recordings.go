package storetest

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jumpcast/jumpcast/internal/recording"
	"github.com/jumpcast/jumpcast/store"
)

var base = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

// sameRecording compares two rows field by field, times with Equal.
func sameRecording(t *testing.T, what string, got, want recording.Meta) {
	t.Helper()
	if !got.Start.Equal(want.Start) || !got.End.Equal(want.End) {
		t.Errorf("%s: start/end %v/%v, want %v/%v", what, got.Start, got.End, want.Start, want.End)
	}
	got.Start, got.End, want.Start, want.End = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}

func testRecordingLifecycle(t *testing.T, ix store.Index) {
	ctx := context.Background()
	start := base.Add(123456789 * time.Nanosecond)
	r := recording.Meta{ID: recording.TimePrefix(start) + "-0000beef", User: "zoë", RemoteUser: "root", TargetAlias: "db1",
		TargetAddr: "[2001:db8::1]:22", Kind: "exec", Command: strings.Repeat("x", 10), CommandLen: 5000, Title: "root@db1 — zoë",
		Width: 120, Height: 40, Start: start, Status: recording.StatusFailed}
	r.Path, _ = recording.RelPath(r.ID)
	created := r
	if err := ix.CreateRecording(ctx, &created); err != nil {
		t.Fatal(err)
	}
	if created.Status != recording.StatusActive {
		t.Errorf("created with status %q, want active", created.Status)
	}
	if err := ix.CreateRecording(ctx, &r); err == nil {
		t.Error("a second create of the same id succeeded")
	}
	bad := r
	bad.ID = recording.TimePrefix(start.Add(time.Hour)) + "-00000001"
	if err := ix.CreateRecording(ctx, &bad); err == nil {
		t.Error("a start that does not match the id was accepted")
	}
	got, err := ix.GetRecording(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	sameRecording(t, "after create", *got, created)
	if act, err := ix.ActiveRecordings(ctx); err != nil || len(act) != 1 || act[0].ID != r.ID {
		t.Errorf("active: %v, %v", act, err)
	}

	fin := r
	fin.Start = time.Time{} // kept from the row
	fin.Status = ""         // means finished
	fin.End = start.Add(90 * time.Second)
	code := 0
	fin.ExitStatus, fin.FileSize, fin.SHA256, fin.BytesIn, fin.BytesOut = &code, 4096, strings.Repeat("ab", 32), 10, 20
	if err := ix.FinishRecording(ctx, &fin); err != nil {
		t.Fatal(err)
	}
	if fin.Duration != 90*time.Second || fin.Status != recording.StatusFinished || !fin.Start.Equal(start) {
		t.Errorf("finish filled in duration %v status %q start %v", fin.Duration, fin.Status, fin.Start)
	}
	got, err = ix.GetRecording(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	sameRecording(t, "after finish", *got, fin)
	active := fin
	active.Status = recording.StatusActive
	if err := ix.FinishRecording(ctx, &active); err == nil {
		t.Error("finish with status active succeeded")
	}
	missing := recording.Meta{ID: recording.TimePrefix(base) + "-00000000", Status: recording.StatusFinished}
	if err := ix.FinishRecording(ctx, &missing); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("finish of a missing recording: %v, want ErrNotFound", err)
	}
	if _, err := ix.GetRecording(ctx, missing.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("get of a missing recording: %v, want ErrNotFound", err)
	}

	st, err := ix.Stats(ctx)
	want := store.Stats{Count: 1, TotalFileSize: 4096, ByStatus: map[recording.Status]int{recording.StatusFinished: 1}}
	if err != nil || !reflect.DeepEqual(st, want) {
		t.Errorf("stats %+v, %v; want %+v", st, err, want)
	}
	if err := ix.DeleteRecording(ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	if err := ix.DeleteRecording(ctx, r.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second delete: %v, want ErrNotFound", err)
	}
	rows := Generate(7, 20, base, 3, 3)
	Insert(t, ix, rows)
	n, err := ix.DeleteRecordings(ctx, []string{rows[0].ID, rows[1].ID, missing.ID})
	if err != nil || n != 2 {
		t.Errorf("delete several: %d, %v; want 2", n, err)
	}
	st, err = ix.Stats(ctx)
	wantStats := statsOf(rows[2:])
	if err != nil || !reflect.DeepEqual(st, wantStats) {
		t.Errorf("stats %+v, %v; want %+v", st, err, wantStats)
	}
}

func statsOf(rows []recording.Meta) store.Stats {
	st := store.Stats{ByStatus: map[recording.Status]int{}}
	for _, r := range rows {
		st.Count++
		st.TotalFileSize += r.FileSize
		st.ByStatus[r.Status]++
	}
	return st
}

// testListRecordings pages through every combination of filters, sorts
// and page sizes and compares the ids with a brute-force selection.
func testListRecordings(t *testing.T, ix store.Index) {
	rows := Generate(42, 400, base, 6, 8)
	Insert(t, ix, rows)
	mid := rows[200].Start
	filters := map[string]store.Filter{
		"all":         {},
		"user":        {User: "user001"},
		"target":      {Target: "srv0001"},
		"target_host": {Target: "10.0.0.4"}, // a host named directly
		"remote":      {RemoteUser: "postgres"},
		"status":      {Status: recording.StatusFailed},
		"since":       {Since: mid},
		"until":       {Until: mid},
		"range":       {Since: rows[50].Start, Until: rows[300].Start.Add(time.Nanosecond)},
		"user_target": {User: "user000", Target: "srv0000"},
		"three":       {User: "user001", Status: recording.StatusFinished, RemoteUser: "root"},
		"text":        {Text: "SYSLOG"},
		"text_fold":   {Text: "élan"},
		"text_title":  {Text: "— user002"},
		"text_user":   {Text: "pg_dump", User: "user000"},
		"none":        {User: "nobody"},
	}
	for name, f := range filters {
		for _, sort := range []string{"start", "duration"} {
			for _, asc := range []bool{false, true} {
				for _, limit := range []int{0, 7} {
					f := f
					f.Sort, f.Asc, f.Limit = sort, asc, limit
					want := Expected(rows, f)
					got := PageAll(t, ix, f)
					if !slices.Equal(got, want) {
						t.Errorf("%s sort=%s asc=%v limit=%d: got %d ids, want %d\n got %v\nwant %v",
							name, sort, asc, limit, len(got), len(want), head(got), head(want))
					}
				}
			}
		}
	}
	// A new recording never shows up on a later page of the default order.
	ctx := context.Background()
	p, err := ix.ListRecordings(ctx, store.Filter{Limit: 10})
	if err != nil || len(p.Items) != 10 || p.Next == "" {
		t.Fatalf("first page: %d items, next %q, %v", len(p.Items), p.Next, err)
	}
	Insert(t, ix, Generate(43, 1, rows[len(rows)-1].Start.Add(time.Hour), 1, 1))
	p2, err := ix.ListRecordings(ctx, store.Filter{Limit: 10, Cursor: p.Next})
	if err != nil || len(p2.Items) == 0 || p2.Items[0].ID != Expected(rows, store.Filter{})[10] {
		t.Errorf("second page after an insert starts with %v, %v", p2.Items, err)
	}
}

func head(ids []string) []string { return ids[:min(len(ids), 8)] }

// PageAll follows the cursors to the end and returns the ids in order.
func PageAll(t testing.TB, ix store.Index, f store.Filter) []string {
	t.Helper()
	var ids []string
	for pages := 0; ; pages++ {
		if pages > 1000 {
			t.Fatal("more than 1000 pages")
		}
		p, err := ix.ListRecordings(context.Background(), f)
		if err != nil {
			t.Fatal(err)
		}
		limit := f.Limit
		if limit <= 0 {
			limit = store.DefaultLimit
		}
		if len(p.Items) > limit {
			t.Fatalf("page of %d items, limit %d", len(p.Items), limit)
		}
		for _, r := range p.Items {
			ids = append(ids, r.ID)
		}
		if p.Next == "" {
			return ids
		}
		f.Cursor = p.Next
	}
}

// Expected selects and orders rows as ListRecordings must, and returns
// their ids.
func Expected(rows []recording.Meta, f store.Filter) []string {
	var sel []recording.Meta
	text := strings.ToLower(f.Text)
	for _, r := range rows {
		switch {
		case f.User != "" && r.User != f.User,
			f.RemoteUser != "" && r.RemoteUser != f.RemoteUser,
			f.Status != "" && r.Status != f.Status,
			f.Target != "" && r.TargetAlias != f.Target && store.TargetHost(r.TargetAddr) != f.Target,
			!f.Since.IsZero() && r.Start.Before(f.Since),
			!f.Until.IsZero() && !r.Start.Before(f.Until),
			text != "" && !strings.Contains(strings.ToLower(r.Title), text) && !strings.Contains(strings.ToLower(r.Command), text):
			continue
		}
		sel = append(sel, r)
	}
	slices.SortFunc(sel, func(a, b recording.Meta) int {
		c := 0
		if f.Sort == "duration" {
			c = int(store.DurationKey(a.Duration) - store.DurationKey(b.Duration))
		}
		if c == 0 {
			c = strings.Compare(a.ID, b.ID)
		}
		if !f.Asc {
			c = -c
		}
		return c
	})
	ids := make([]string, len(sel))
	for i, r := range sel {
		ids[i] = r.ID
	}
	return ids
}

func testListInvalid(t *testing.T, ix store.Index) {
	ctx := context.Background()
	Insert(t, ix, Generate(1, 5, base, 1, 1))
	for name, f := range map[string]store.Filter{
		"sort":         {Sort: "size"},
		"cursor":       {Cursor: "not-a-cursor"},
		"cursor_sort":  {Cursor: store.RecordingCursor(true, time.Second, recording.TimePrefix(base)+"-00000000")},
		"cursor_dur":   {Sort: "duration", Cursor: store.RecordingCursor(false, 0, recording.TimePrefix(base)+"-00000000")},
		"cursor_nonid": {Cursor: store.RecordingCursor(false, 0, "../../etc/passwd")},
	} {
		if _, err := ix.ListRecordings(ctx, f); !errors.Is(err, store.ErrInvalidFilter) {
			t.Errorf("%s: %v, want ErrInvalidFilter", name, err)
		}
	}
}

func testRecoverActive(t *testing.T, ix store.Index) {
	ctx := context.Background()
	rows := Generate(3, 30, base, 2, 2)
	Insert(t, ix, rows)
	var active []recording.Meta
	for _, r := range rows {
		if r.Status == recording.StatusActive {
			active = append(active, r)
		}
	}
	if len(active) < 2 {
		t.Fatalf("generated %d active rows, want at least 2", len(active))
	}
	// A recording another node is making in a shared index, live.
	other := Generate(1, 1, base.Add(time.Hour), 1, 1)[0]
	other.Start = base.Add(2 * time.Hour)
	other.ID = recording.NewID(other.Start)
	other.Path, _ = recording.RelPath(other.ID)
	other.Status, other.Node, other.End, other.Duration, other.ExitStatus = recording.StatusActive, "node-b", time.Time{}, 0, nil
	other.SHA256, other.FileSize = "", 0
	if err := ix.CreateRecording(ctx, &other); err != nil {
		t.Fatal(err)
	}
	failing := active[0].ID
	n, err := ix.RecoverActive(ctx, "node-a", func(r recording.Meta) (store.Recovered, error) {
		if r.ID == failing {
			return store.Recovered{}, errors.New("file is gone")
		}
		return store.Recovered{End: r.Start.Add(time.Minute), FileSize: 77, SHA256: strings.Repeat("cd", 32)}, nil
	})
	if err != nil || n != len(active) {
		t.Fatalf("recovered %d, %v; want %d", n, err, len(active))
	}
	if left, err := ix.ActiveRecordings(ctx); err != nil || len(left) != 1 || left[0].ID != other.ID || left[0].Node != "node-b" {
		t.Errorf("still active: %+v, %v; want node-b's recording only", left, err)
	}
	got, err := ix.GetRecording(ctx, failing)
	if err != nil || got.Status != recording.StatusInterrupted || !strings.Contains(got.Error, "file is gone") {
		t.Errorf("failed recovery: %+v, %v", got, err)
	}
	got, err = ix.GetRecording(ctx, active[1].ID)
	if err != nil || got.Status != recording.StatusInterrupted || got.Duration != time.Minute || got.FileSize != 77 {
		t.Errorf("recovered row: %+v, %v", got, err)
	}
	if n, err := ix.RecoverActive(ctx, "node-a", nil); err != nil || n != 0 {
		t.Errorf("second recovery: %d, %v", n, err)
	}
}

func testPurgeCandidates(t *testing.T, ix store.Index) {
	ctx := context.Background()
	rows := Generate(9, 120, base, 3, 3)
	Insert(t, ix, rows)
	now := rows[len(rows)-1].Start.Add(time.Hour)
	st := statsOf(rows)
	byID := slices.SortedFunc(slices.Values(rows), func(a, b recording.Meta) int { return strings.Compare(a.ID, b.ID) })
	for _, tc := range []struct {
		name     string
		maxAge   time.Duration
		maxTotal int64
	}{
		{"none", 0, 0},
		{"age", now.Sub(rows[60].Start), 0},
		{"size", 0, st.TotalFileSize / 3},
		{"both", now.Sub(rows[90].Start), st.TotalFileSize / 2},
		{"nothing_old", 365 * 24 * time.Hour, st.TotalFileSize * 2},
	} {
		got, err := ix.PurgeCandidates(ctx, now, tc.maxAge, tc.maxTotal)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		sel := store.NewPurgeSelector(st, now, tc.maxAge, tc.maxTotal)
		for i := range byID {
			if tc.maxAge <= 0 && tc.maxTotal <= 0 || !sel.Add(&byID[i]) {
				break
			}
		}
		if ids(got) == nil && ids(sel.Out) == nil {
			continue
		}
		if !slices.Equal(ids(got), ids(sel.Out)) {
			t.Errorf("%s: got %d candidates %v, want %d", tc.name, len(got), head(ids(got)), len(sel.Out))
		}
		for _, r := range got {
			if r.Status == recording.StatusActive {
				t.Errorf("%s: active recording %s is a candidate", tc.name, r.ID)
			}
			if tc.name == "age" && !r.Start.Before(now.Add(-tc.maxAge)) {
				t.Errorf("age: %s is younger than the limit", r.ID)
			}
		}
	}
}

func ids(rows []recording.Meta) []string {
	var out []string
	for _, r := range rows {
		out = append(out, r.ID)
	}
	return out
}
