package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/jumpcast/jumpcast/internal/audit"
)

func TestAuditAppendConcurrentAndList(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	s := openTest(t)
	ctx := context.Background()
	base := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	kinds := []audit.Kind{audit.KindAuth, audit.KindPolicy, audit.KindSession, audit.KindPurge}
	users := []string{"alice", "bob", "carol"}
	const n = 300
	var wg sync.WaitGroup
	for i := range n { // concurrent appends share Batch transactions
		wg.Add(1)
		go func() { // owner: this test; ends when AppendAudit returns
			defer wg.Done()
			ev := audit.Event{
				Time: base.Add(time.Duration(i%100) * time.Minute), Kind: kinds[i%len(kinds)],
				Who: audit.Who{User: users[i%len(users)]}, Outcome: audit.OutcomeOK, Detail: map[audit.DetailKey]string{"i": fmt.Sprint(i)},
			}
			if err := s.AppendAudit(ctx, ev); err != nil {
				t.Errorf("append %d: %v", i, err)
			}
		}()
	}
	wg.Wait()

	all, next, err := s.ListAudit(ctx, AuditFilter{Limit: MaxLimit})
	if err != nil || next != "" || len(all) != n {
		t.Fatalf("list all: %d events, next %q, %v", len(all), next, err)
	}
	ids := map[uint64]bool{}
	for i, ev := range all {
		if ev.ID == 0 || ids[ev.ID] {
			t.Errorf("event id %d zero or repeated", ev.ID)
		}
		ids[ev.ID] = true
		if i > 0 && ev.Time.After(all[i-1].Time) {
			t.Errorf("event %d is newer than event %d: not newest first", i, i-1)
		}
	}

	ref := func(f AuditFilter) []uint64 {
		var out []uint64
		for _, ev := range all {
			if f.Kind != "" && ev.Kind != f.Kind || f.User != "" && ev.User != f.User ||
				!f.Since.IsZero() && ev.Time.Before(f.Since) || !f.Until.IsZero() && !ev.Time.Before(f.Until) {
				continue
			}
			out = append(out, ev.ID)
		}
		return out
	}
	for _, budget := range []int{pageBudget, 40} { // 40: short pages with cursors
		s.budget = budget
		checkAuditPaging(t, s, ref, base)
	}
	s.budget = pageBudget
	if _, _, err := s.ListAudit(ctx, AuditFilter{Cursor: "bogus"}); !errors.Is(err, ErrInvalidFilter) {
		t.Errorf("bad cursor: %v", err)
	}
}

// checkAuditPaging pages through several filters and compares with ref.
func checkAuditPaging(t *testing.T, s *Store, ref func(AuditFilter) []uint64, base time.Time) {
	t.Helper()
	ctx := context.Background()
	for _, f := range []AuditFilter{
		{Limit: 7},
		{Kind: audit.KindAuth, Limit: 5},
		{User: "bob", Limit: 11},
		{Kind: audit.KindPolicy, User: "bob", Limit: 3},
		{Kind: audit.KindSession, User: "carol", Limit: 4, Since: base.Add(20 * time.Minute), Until: base.Add(70 * time.Minute)},
		{Since: base.Add(99 * time.Minute)},
		{Until: base.Add(time.Minute), Limit: 2},
		{Kind: audit.Kind("nothing")},
	} {
		var got []uint64
		for pages := 0; ; pages++ {
			evs, next, err := s.ListAudit(ctx, f)
			if err != nil || pages > 1000 {
				t.Fatalf("%+v: %v (page %d)", f, err, pages)
			}
			for _, ev := range evs {
				got = append(got, ev.ID)
			}
			if next == "" {
				break
			}
			f.Cursor = next
		}
		f.Cursor = ""
		if want := ref(f); !slices.Equal(got, want) {
			t.Errorf("budget %d, %+v: got %v, want %v", s.budget, f, got, want)
		}
	}
}

func TestAuditTimeDefaultsToNow(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	before := time.Now()
	if err := s.AppendAudit(ctx, audit.WebLoginDenied("")); err != nil {
		t.Fatal(err)
	}
	evs, _, err := s.ListAudit(ctx, AuditFilter{Since: before.Add(-time.Second)})
	if err != nil || len(evs) != 1 {
		t.Fatalf("%v, %v", evs, err)
	}
	if evs[0].Time.Before(before) || evs[0].Reason != audit.ReasonWrongPassword || evs[0].ID != 1 {
		t.Errorf("%+v", evs[0])
	}
}
