package store

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jumpcast/jumpcast/internal/recording"
)

// reference answers a filter by brute force over all rows.
func reference(rows []recording.Meta, f Filter) []string {
	var out []recording.Meta
	text := strings.ToLower(f.Text)
	for _, r := range rows {
		if f.User != "" && r.User != f.User || f.RemoteUser != "" && r.RemoteUser != f.RemoteUser ||
			f.Status != "" && r.Status != f.Status ||
			f.Target != "" && r.TargetAlias != f.Target && hostPart(r.TargetAddr) != f.Target ||
			!f.Since.IsZero() && r.Start.Before(f.Since) || !f.Until.IsZero() && !r.Start.Before(f.Until) ||
			text != "" && !strings.Contains(strings.ToLower(r.Title), text) && !strings.Contains(strings.ToLower(r.Command), text) {
			continue
		}
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b recording.Meta) int {
		if f.Sort == "duration" && a.Duration != b.Duration {
			return int(a.Duration - b.Duration)
		}
		return strings.Compare(a.ID, b.ID)
	})
	if !f.Asc {
		slices.Reverse(out)
	}
	ids := make([]string, len(out))
	for i, r := range out {
		ids[i] = r.ID
	}
	return ids
}

// pageAll follows Next from the first page to the end; between pages it
// calls between (may be nil). It fails the test on a page over the limit,
// an error, or an endless chain. short counts pages with fewer items than
// the limit and a Next cursor (the work budget ran out).
func pageAll(t *testing.T, s *Store, f Filter, between func()) (ids []string, short int) {
	t.Helper()
	limit := f.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	for pages := 0; ; pages++ {
		if pages > 100_000 {
			t.Fatalf("%+v: more than 100000 pages", f)
		}
		p, err := s.ListRecordings(context.Background(), f)
		if err != nil {
			t.Fatalf("%+v: %v", f, err)
		}
		if len(p.Items) > limit {
			t.Fatalf("%+v: %d items on a page of %d", f, len(p.Items), limit)
		}
		for _, r := range p.Items {
			ids = append(ids, r.ID)
		}
		if p.Next == "" {
			return ids, short
		}
		if len(p.Items) < limit {
			short++
		}
		f.Cursor = p.Next
		if between != nil {
			between()
		}
	}
}

// randomFilter builds a filter from the bits of mask, with values taken
// from the data (and sometimes values that match nothing).
func randomFilter(rnd *rand.Rand, rows []recording.Meta, mask int) Filter {
	r := rows[rnd.IntN(len(rows))]
	var f Filter
	if mask&1 != 0 {
		f.User = r.User
	}
	if mask&2 != 0 {
		f.Target = r.TargetAlias
		if f.Target == "" || rnd.IntN(2) == 0 {
			f.Target = hostPart(r.TargetAddr)
		}
	}
	if mask&4 != 0 {
		f.RemoteUser = r.RemoteUser
	}
	if mask&8 != 0 {
		f.Status = r.Status
	}
	if mask&16 != 0 {
		f.Since = rows[rnd.IntN(len(rows))].Start.Add(time.Duration(rnd.IntN(3)-1) * time.Nanosecond)
	}
	if mask&32 != 0 {
		f.Until = rows[rnd.IntN(len(rows))].Start.Add(time.Duration(rnd.IntN(3)-1) * time.Nanosecond)
		if !f.Since.IsZero() && f.Until.Before(f.Since) {
			f.Since, f.Until = f.Until, f.Since
		}
	}
	if mask&64 != 0 {
		f.Text = []string{"SYSLOG", "élan", "— Alice", "pg_", "nothing-matches", "root@"}[rnd.IntN(6)]
	}
	if rnd.IntN(8) == 0 {
		f.User = "nobody"
	}
	return f
}

// TestListMatchesReference pages through every combination of filters,
// sort and direction on a few thousand random rows and compares with a
// brute-force answer: no duplicates, no gaps, same order. It runs with the
// real budget, with a tiny budget (short and empty pages with cursors), and
// with a tiny in-memory set (the duration index walk).
func TestListMatchesReference(t *testing.T) {
	s := openTest(t)
	rows := genRecordings(42, 3000, time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC))
	insertAll(t, s, rows)
	rnd := rand.New(rand.NewPCG(1, 2))
	for _, mode := range []struct {
		name             string
		budget, smallSet int
	}{{"default", pageBudget, smallSetMax}, {"tiny budget", 300, 50}, {"no small set", pageBudget, 0}, {"tiny both", 100, 3}} {
		t.Run(mode.name, func(t *testing.T) {
			s.budget, s.smallSet = mode.budget, mode.smallSet
			defer func() { s.budget, s.smallSet = pageBudget, smallSetMax }()
			shortPages := 0
			defer func() {
				if mode.budget < pageBudget && shortPages == 0 {
					t.Error("a tiny budget never gave a short page: the budget path went untested")
				}
				t.Logf("%d short pages", shortPages)
			}()
			for mask := range 128 {
				f := randomFilter(rnd, rows, mask)
				f.Sort = []string{"", "start", "duration"}[rnd.IntN(3)]
				f.Asc = rnd.IntN(2) == 0
				f.Limit = []int{7, 50, 500}[rnd.IntN(3)]
				want := reference(rows, f)
				got, short := pageAll(t, s, f, nil)
				shortPages += short
				if !slices.Equal(got, want) {
					t.Errorf("mask %d %+v: got %d ids, want %d\n got %.5v\nwant %.5v", mask, f, len(got), len(want), got, want)
				}
			}
		})
	}
}

// TestListCursorStableWhileRowsArrive adds newer recordings between pages:
// a newest-first listing neither repeats nor skips a row and does not show
// the new ones; a duration listing shows every old row exactly once.
func TestListCursorStableWhileRowsArrive(t *testing.T) {
	s := openTest(t)
	base := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	rows := genRecordings(5, 1000, base)
	insertAll(t, s, rows)
	later := genRecordings(6, 2000, base.AddDate(1, 0, 0))
	next := 0
	add := func() {
		for range 3 {
			insertAll(t, s, later[next:next+1])
			next++
		}
	}
	for _, f := range []Filter{{Limit: 20}, {User: "alice", Limit: 10}, {Text: "root@", Limit: 25}} {
		before := append(slices.Clip(rows), later[:next]...)
		got, _ := pageAll(t, s, f, add)
		if want := reference(before, f); !slices.Equal(got, want) {
			t.Errorf("%+v: got %d ids, want %d", f, len(got), len(want))
		}
	}
	rows = append(rows, later[:next]...)
	f := Filter{Sort: "duration", Limit: 20}
	got, _ := pageAll(t, s, f, add)
	seen := map[string]int{}
	for _, id := range got {
		seen[id]++
	}
	for _, r := range rows {
		if seen[r.ID] != 1 {
			t.Errorf("duration order: %s seen %d times", r.ID, seen[r.ID])
		}
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("duration order: %s seen %d times", id, n)
		}
	}
}

func TestListDurationOrder(t *testing.T) {
	s := openTest(t)
	rows := genRecordings(9, 300, time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC))
	insertAll(t, s, rows)
	p, err := s.ListRecordings(context.Background(), Filter{Sort: "duration", Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Items) != len(rows) || p.Next != "" {
		t.Fatalf("%d items, next %q", len(p.Items), p.Next)
	}
	for i := 1; i < len(p.Items); i++ {
		if p.Items[i].Duration > p.Items[i-1].Duration {
			t.Fatalf("item %d (%v) longer than item %d (%v)", i, p.Items[i].Duration, i-1, p.Items[i-1].Duration)
		}
	}
}

func TestListBadInput(t *testing.T) {
	s := openTest(t)
	insertAll(t, s, genRecordings(9, 10, time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)))
	ctx := context.Background()
	p, err := s.ListRecordings(ctx, Filter{Limit: 3})
	if err != nil || p.Next == "" {
		t.Fatal(p, err)
	}
	for _, f := range []Filter{
		{Sort: "size"},
		{Cursor: "not a cursor"},
		{Cursor: p.Next, Sort: "duration"}, // a start cursor for the duration order
		{Cursor: encodeCursor(false, []byte("../../../../../../etc/passwd.cast"), false)},
	} {
		if _, err := s.ListRecordings(ctx, f); !errors.Is(err, ErrInvalidFilter) {
			t.Errorf("%+v: %v, want ErrInvalidFilter", f, err)
		}
	}
	if p, err := s.ListRecordings(ctx, Filter{Limit: 100000}); err != nil || len(p.Items) != 10 {
		t.Errorf("huge limit: %d items, %v", len(p.Items), err)
	}
}

func TestContainsFold(t *testing.T) {
	for _, tc := range []struct {
		hay, needle string
		want        bool
	}{
		{"tail -f /var/log/Syslog", "syslog", true},
		{"root@db1 — alice", "— alice", true},
		{"ÉLAN", "élan", true},
		{"Kelvin \u212a", "kelvin k", true}, // KELVIN SIGN folds to k
		{"abc", "abcd", false},
		{"", "a", false},
		{"xyz", "", true},
	} {
		if got := containsFold([]byte(tc.hay), strings.ToLower(tc.needle)); got != tc.want {
			t.Errorf("containsFold(%q, %q) = %v", tc.hay, tc.needle, got)
		}
	}
}

func ExampleStore_ListRecordings() {
	dir, err := os.MkdirTemp("", "jumpcast-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	s, err := Open(filepath.Join(dir, "index.db"), Options{})
	if err != nil {
		panic(err)
	}
	defer s.Close()
	ctx := context.Background()
	for i, user := range []string{"alice", "bob", "alice"} {
		start := time.Date(2026, 11, 24, 9, 30, i, 0, time.UTC)
		r := &recording.Meta{
			ID:   recording.TimePrefix(start) + "-3f9a1c2" + fmt.Sprint(i), // as recording.NewID(start) makes it
			User: user, TargetAlias: "db1", TargetAddr: "10.0.0.1:22", Title: "root@db1 — " + user, Start: start,
		}
		if err := s.CreateRecording(ctx, r); err != nil {
			panic(err)
		}
	}
	// Page through alice's recordings on db1, newest first, one per page.
	f := Filter{User: "alice", Target: "db1", Limit: 1}
	for {
		page, err := s.ListRecordings(ctx, f)
		if err != nil {
			panic(err)
		}
		for _, r := range page.Items {
			fmt.Println(r.ID, r.Status)
		}
		if page.Next == "" {
			break
		}
		f.Cursor = page.Next
	}
	// Output:
	// 20261124T093002.000000Z-3f9a1c22 active
	// 20261124T093000.000000Z-3f9a1c20 active
}
