package replayweb

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jumpcast/jumpcast/internal/audit"
	"github.com/jumpcast/jumpcast/store"
)

const auditBenchEvents = 1_000_000

// auditBenchStart is the first benchmark event's time; one follows every
// 2.6 s, so the million span 30 days.
var auditBenchStart = time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)

// auditBenchGen names the generator below in the cached file's name.
const auditBenchGen = 2

// auditBenchEvent is the i-th generated event: 301 people, 997 targets,
// 4,999 client hosts (prime counts, so that each person, target and host
// has every kind of event); 40 % are logins, 10 % refused logins, the
// rest policy decisions, sessions, plays and refused web logins.
func auditBenchEvent(i int) audit.Event {
	host := i % 4999
	who := audit.Who{User: fmt.Sprintf("user%03d", i%301), Target: fmt.Sprintf("srv%04d", i%997),
		RemoteAddr: fmt.Sprintf("10.%d.%d.%d:%d", host/250, host%250, 1+host%13, 40000+i%20000), RemoteUser: "root"}
	ev := audit.Event{Who: who, Time: auditBenchStart.Add(time.Duration(i) * 2600 * time.Millisecond)}
	switch r := i % 20; {
	case r < 8:
		ev.Kind, ev.Outcome = audit.KindAuth, audit.OutcomeOK
	case r < 10:
		ev.Kind, ev.Outcome, ev.Reason = audit.KindAuth, audit.OutcomeDenied, audit.ReasonNoAuthorizedKey
	case r < 13:
		ev.Kind, ev.Outcome = audit.KindPolicy, audit.OutcomeAllowed
	case r < 17:
		ev.Kind, ev.Outcome, ev.SessionID = audit.KindSession, audit.OutcomeStarted, fmt.Sprintf("20261001T000000.000000Z-%08x", i)
	case r < 19:
		ev.Kind, ev.Outcome, ev.SessionID = audit.KindPlayback, audit.OutcomeOK, fmt.Sprintf("20261001T000000.000000Z-%08x", i)
	default:
		ev.Kind, ev.Outcome = audit.KindWebLogin, audit.OutcomeDenied
	}
	return ev
}

// auditBenchStore returns a bbolt index with auditBenchEvents events. The
// filled file is cached in os.TempDir() by schema version, so only the
// first run pays for the fill.
func auditBenchStore(b *testing.B) *store.Store {
	b.Helper()
	path := filepath.Join(os.TempDir(), fmt.Sprintf("jumpcast-audit-bench-s%d-g%d-%d.db", store.SchemaVersion, auditBenchGen, auditBenchEvents))
	if _, err := os.Stat(path); err != nil {
		start := time.Now()
		if err := fillAuditBench(path + ".tmp"); err != nil {
			b.Fatal(err)
		}
		if err := os.Rename(path+".tmp", path); err != nil {
			b.Fatal(err)
		}
		b.Logf("filled %d audit events in %v", auditBenchEvents, time.Since(start).Round(time.Second))
	}
	st, err := store.Open(path, store.Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = st.Close() })
	return st
}

// fillAuditBench appends the events from 256 goroutines, so that the
// store's batching writes a few hundred per transaction.
func fillAuditBench(path string) error {
	_ = os.Remove(path)
	st, err := store.Open(path, store.Options{NoSync: true})
	if err != nil {
		return err
	}
	const workers = 256
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			for i := w; i < auditBenchEvents; i += workers {
				if err := st.AppendAudit(context.Background(), auditBenchEvent(i)); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		_ = st.Close()
		return err
	}
	return st.Close()
}

// BenchmarkAuditPage1M: the audit page (its handler, template included,
// signed in as an auditor) over a million events, first page and the
// page after it, for each filter the page offers. Budget: the recordings
// list page's, 20 ms a page. "rows/op" is how many rows the page shows;
// a short page has a "next" link to continue the search.
func BenchmarkAuditPage1M(b *testing.B) {
	e := newEnvOn(b, auditBenchStore(b), nil)
	c := e.client()
	c.login("alice", testPassword)
	mid := auditBenchStart.Add(15 * 24 * time.Hour).Format(time.DateOnly)
	cases := []struct{ name, query string }{
		{"none", ""},
		{"kind", "kind=web_login"},
		{"kind_outcome", "kind=auth&outcome=denied"},
		{"user", "user=user150"},
		{"user_kind", "user=user150&kind=auth"},
		{"target", "target=srv0500"},
		{"addr", "addr=10.4.0.13"},
		{"outcome_rare", "kind=auth&outcome=error"},
		{"time_day", "since=" + mid + "&until=" + mid},
		{"until_mid", "until=" + mid},
	}
	for _, tc := range cases {
		res, body := c.get("/audit?" + tc.query)
		if res.StatusCode != http.StatusOK {
			b.Fatalf("%s: %d %.300s", tc.name, res.StatusCode, body)
		}
		next := strings.ReplaceAll(between(body, `id="next" href="`, `"`), "&amp;", "&")
		for _, page := range []struct{ depth, url string }{{"first", "/audit?" + tc.query}, {"next", next}} {
			if page.url == "" {
				continue
			}
			b.Run(tc.name+"/"+page.depth, func(b *testing.B) {
				rows := 0
				for b.Loop() {
					res, body := c.get(page.url)
					if res.StatusCode != http.StatusOK {
						b.Fatalf("%d", res.StatusCode)
					}
					rows += strings.Count(body, "<tr data-id=")
				}
				b.ReportMetric(float64(rows)/float64(b.N), "rows/op")
			})
		}
	}
}
