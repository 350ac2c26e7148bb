package metrics

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/jumpcast/jumpcast/internal/leakcheck"

	"github.com/jumpcast/jumpcast/config"
	"github.com/jumpcast/jumpcast/internal/audit"
	"github.com/jumpcast/jumpcast/internal/metrics/metricstest"
	"github.com/jumpcast/jumpcast/internal/recording"
	"github.com/jumpcast/jumpcast/recorder"
	"github.com/jumpcast/jumpcast/recorder/asciicast"
	"github.com/jumpcast/jumpcast/store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m, leakcheck.Background()...) }

// scrape GETs url (a /metrics) and returns each sample by its series
// ("name{labels}") and the HELP text of each metric family.
func scrape(t *testing.T, url string) (samples map[string]float64, help map[string]string) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = res.Body.Close() }()
	if res.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(res.Body)
		t.Fatalf("GET %s: %d %s", url, res.StatusCode, b)
	}
	samples, help, err = metricstest.Parse(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return samples, help
}

// The series every bastion exposes from its start.
var wantFamilies = []string{
	"jumpcast_active_sessions",
	"jumpcast_sessions_total",
	"jumpcast_auth_failures_total",
	"jumpcast_upstream_dial_duration_seconds",
	"jumpcast_proxied_bytes_total",
	"jumpcast_recording_bytes_total",
	"jumpcast_recording_failures_total",
	"jumpcast_purged_recordings_total",
	"jumpcast_purged_bytes_total",
	"jumpcast_web_logins_total",
	"go_goroutines",
	"process_resident_memory_bytes",
}

func TestEverySeriesHasHelpFromTheStart(t *testing.T) {
	active := 3
	m := New(Options{ActiveSessions: func() int { return active }})
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	samples, help := scrape(t, srv.URL)
	for _, f := range wantFamilies {
		if help[f] == "" {
			t.Errorf("%s: no HELP line", f)
		}
	}
	for _, s := range []string{
		`jumpcast_sessions_total{outcome="ok"}`,
		`jumpcast_sessions_total{outcome="denied"}`,
		`jumpcast_auth_failures_total{reason="no_authorized_key"}`,
		`jumpcast_upstream_dial_duration_seconds_count{outcome="ok"}`,
		`jumpcast_proxied_bytes_total{direction="in"}`,
		`jumpcast_proxied_bytes_total{direction="out"}`,
		`jumpcast_recording_failures_total{policy="fail-open"}`,
		`jumpcast_web_logins_total{outcome="denied"}`,
	} {
		if v, ok := samples[s]; !ok || v != 0 {
			t.Errorf("%s = %v (present %v), want 0 from the start", s, v, ok)
		}
	}
	if samples["jumpcast_active_sessions"] != 3 {
		t.Errorf("active sessions = %v, want 3", samples["jumpcast_active_sessions"])
	}
	// A second registry is independent: nothing is global.
	if New(Options{}).Registry() == m.Registry() {
		t.Error("two Metrics share a registry")
	}
}

// TestAuditEventsMoveCounters: events as proxy, replayweb and the
// retention job write them move the series, and still reach the store.
func TestAuditEventsMoveCounters(t *testing.T) {
	st, err := store.Open(filepath.Join(t.TempDir(), "jumpcast.db"), store.Options{Timeout: time.Second, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = st.Close() }()
	m := New(Options{})
	sink := m.CountingSink(st)
	type detail = map[audit.DetailKey]string
	events := []audit.Event{
		{Kind: audit.KindAuth, Outcome: audit.OutcomeOK, Who: audit.Who{User: "alice"}},
		{Kind: audit.KindAuth, Outcome: audit.OutcomeDenied, Reason: audit.ReasonNoAuthorizedKey},
		{Kind: audit.KindAuth, Outcome: audit.OutcomeDenied, Reason: audit.ReasonNoAuthorizedKey},
		{Kind: audit.KindPolicy, Outcome: audit.OutcomeDenied, Reason: audit.ReasonTargetNotPermitted},
		{Kind: audit.KindPolicy, Outcome: audit.OutcomeAllowed},
		{Kind: audit.KindSession, Outcome: audit.OutcomeDenied, Reason: audit.ReasonBadLogin},
		{Kind: audit.KindUpstream, Outcome: audit.OutcomeError, Reason: audit.ReasonUnreachable},
		{Kind: audit.KindSession, Outcome: audit.OutcomeStarted},
		{Kind: audit.KindSession, Outcome: audit.OutcomeEnded, Detail: detail{audit.DetailExitStatus: "0", audit.DetailBytesIn: "11", audit.DetailBytesOut: "1000"}},
		{Kind: audit.KindSession, Outcome: audit.OutcomeEnded, Detail: detail{audit.DetailExitStatus: "3", audit.DetailBytesIn: "1", audit.DetailBytesOut: "2"}},
		{Kind: audit.KindSession, Outcome: audit.OutcomeEnded, Detail: detail{audit.DetailExitSignal: "KILL"}},
		{Kind: audit.KindSession, Outcome: audit.OutcomeEnded, Reason: audit.Reason("recording failed; session ended"), Detail: detail{audit.DetailExitStatus: "255"}},
		{Kind: audit.KindSession, Outcome: audit.OutcomeEnded, Reason: audit.ReasonClientGone, Detail: detail{audit.DetailExitStatus: "", audit.DetailBytesIn: "x"}},
		{Kind: audit.KindRecording, Outcome: audit.OutcomeError, Detail: detail{audit.DetailOnFailure: config.FailOpen}},
		{Kind: audit.KindRecording, Outcome: audit.OutcomeError, Detail: detail{audit.DetailOnFailure: config.FailClosed}},
		{Kind: audit.KindPurge, Outcome: audit.OutcomeOK, Detail: detail{audit.DetailBytes: "4096"}},
		{Kind: audit.KindPurge, Outcome: audit.OutcomeOK, Detail: detail{audit.DetailBytes: "100"}},
		{Kind: audit.KindWebLogin, Outcome: audit.OutcomeOK},
		{Kind: audit.KindWebLogin, Outcome: audit.OutcomeDenied},
		{Kind: audit.KindWebLogin, Outcome: audit.OutcomeDenied},
		{Kind: audit.KindPlayback, Outcome: audit.OutcomeOK},
	}
	for _, ev := range events {
		ev.Time = time.Now()
		if err := sink.AppendAudit(t.Context(), ev); err != nil {
			t.Fatal(err)
		}
	}
	m.ObserveDial("ok", 30*time.Millisecond)
	m.ObserveDial("unreachable", 2*time.Second)
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	samples, _ := scrape(t, srv.URL)
	for series, want := range map[string]float64{
		`jumpcast_auth_failures_total{reason="no_authorized_key"}`:                2,
		`jumpcast_sessions_total{outcome="ok"}`:                                   1,
		`jumpcast_sessions_total{outcome="exit_error"}`:                           2,
		`jumpcast_sessions_total{outcome="aborted"}`:                              1,
		`jumpcast_sessions_total{outcome="disconnected"}`:                         1,
		`jumpcast_sessions_total{outcome="denied"}`:                               2,
		`jumpcast_sessions_total{outcome="upstream_error"}`:                       1,
		`jumpcast_proxied_bytes_total{direction="in"}`:                            12,
		`jumpcast_proxied_bytes_total{direction="out"}`:                           1002,
		`jumpcast_recording_failures_total{policy="fail-open"}`:                   1,
		`jumpcast_recording_failures_total{policy="fail-closed"}`:                 1,
		`jumpcast_purged_recordings_total`:                                        2,
		`jumpcast_purged_bytes_total`:                                             4196,
		`jumpcast_web_logins_total{outcome="ok"}`:                                 1,
		`jumpcast_web_logins_total{outcome="denied"}`:                             2,
		`jumpcast_upstream_dial_duration_seconds_count{outcome="ok"}`:             1,
		`jumpcast_upstream_dial_duration_seconds_count{outcome="unreachable"}`:    1,
		`jumpcast_upstream_dial_duration_seconds_bucket{outcome="ok",le="0.05"}`:  1,
		`jumpcast_upstream_dial_duration_seconds_bucket{outcome="ok",le="0.025"}`: 0,
	} {
		if got, ok := samples[series]; !ok || got != want {
			t.Errorf("%s = %v (present %v), want %v", series, got, ok, want)
		}
	}
	stored, _, err := st.ListAudit(t.Context(), store.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(stored) != len(events) {
		t.Errorf("store holds %d events, want %d: the sink must pass every event on", len(stored), len(events))
	}
}

func TestReasonLabelsAreBounded(t *testing.T) {
	var b boundedLabels
	b.max = 3
	got := []string{b.get(audit.ReasonNoAuthorizedKey), b.get("Rate limited!"), b.get("certificate expired"),
		b.get("from 10.0.0.1"), b.get("rate limited")}
	want := []string{"no_authorized_key", "rate_limited", "certificate_expired", "other", "rate_limited"}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("label %d = %q, want %q", i, got[i], want[i])
		}
	}
	if v := labelValue("  ::  "); v != "unknown" {
		t.Errorf("labelValue of punctuation = %q", v)
	}
	if v := labelValue(strings.Repeat("abc ", 40)); len(v) > 48 {
		t.Errorf("labelValue not bounded: %d bytes", len(v))
	}
}

// memIndex is a recorder.Index that keeps the finished records.
type memIndex struct{ finished []recording.Meta }

func (x *memIndex) Started(context.Context, recording.Meta) error { return nil }
func (x *memIndex) Finished(_ context.Context, r recording.Meta) error {
	x.finished = append(x.finished, r)
	return nil
}

// TestIndexCountsRecordingBytes: a real recording through the recorder's
// Manager adds its file's size on disk to jumpcast_recording_bytes_total.
func TestIndexCountsRecordingBytes(t *testing.T) {
	root := t.TempDir()
	dir, err := recorder.OpenDir(root)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = dir.Close() }()
	m := New(Options{})
	next := &memIndex{}
	mgr := recorder.NewManager(recorder.ManagerOptions{Dir: dir, Index: m.Index(next)})
	s, err := mgr.Start(t.Context(), recorder.SessionInfo{User: "alice", RemoteUser: "root", TargetAlias: "db1", Kind: recorder.KindExec})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Output([]byte("hello from db1\r\n")); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(t.Context(), asciicast.Exit{HasStatus: true}); err != nil {
		t.Fatal(err)
	}
	if len(next.finished) != 1 {
		t.Fatalf("next index saw %d finished records", len(next.finished))
	}
	fi, err := os.Stat(filepath.Join(root, filepath.FromSlash(next.finished[0].Path)))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	samples, _ := scrape(t, srv.URL)
	if got := samples["jumpcast_recording_bytes_total"]; got != float64(fi.Size()) || got == 0 {
		t.Errorf("recording bytes = %v, file is %d bytes", got, fi.Size())
	}
}
