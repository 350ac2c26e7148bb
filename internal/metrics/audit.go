package metrics

import (
	"context"
	"strconv"
	"strings"
	"sync"

	"github.com/jumpcast/jumpcast/internal/recording"
	"github.com/jumpcast/jumpcast/recorder"
	"github.com/jumpcast/jumpcast/store"
)

// AuditSink stores audit events. *store.Store implements it, and so do
// proxy.Auditor and the web site's store.
type AuditSink interface {
	AppendAudit(ctx context.Context, ev store.AuditEvent) error
}

// reasonNoKey is the proxy's reason for a failed authentication.
const reasonNoKey = "no authorized key"

// Auditor returns a sink that counts each event, then passes it to next.
// An event is counted even when next fails to store it: the metric says
// what happened, the store error is next's to report.
func (m *Metrics) Auditor(next AuditSink) AuditSink {
	return &countingAuditor{m: m, next: next, reasons: boundedLabels{max: maxReasons}}
}

type countingAuditor struct {
	m       *Metrics
	next    AuditSink
	reasons boundedLabels // values of jumpcast_auth_failures_total{reason}
}

func (a *countingAuditor) AppendAudit(ctx context.Context, ev store.AuditEvent) error {
	a.m.count(ev, &a.reasons)
	return a.next.AppendAudit(ctx, ev)
}

// count maps one audit event to the series it moves. The event kinds and
// details are those written by proxy (auth, policy, session, upstream,
// recording), replayweb (web_login) and the retention job (purge).
func (m *Metrics) count(ev store.AuditEvent, reasons *boundedLabels) {
	switch ev.Kind + "/" + ev.Outcome {
	case "auth/denied":
		m.authFailures.WithLabelValues(reasons.get(ev.Reason)).Inc()
	case "session/ended":
		m.sessions.WithLabelValues(endOutcome(ev)).Inc()
		m.proxied.WithLabelValues("in").Add(detailNumber(ev, "bytes_in"))
		m.proxied.WithLabelValues("out").Add(detailNumber(ev, "bytes_out"))
	case "session/denied", "policy/denied":
		m.sessions.WithLabelValues(OutcomeDenied).Inc()
	case "upstream/error":
		m.sessions.WithLabelValues(OutcomeUpstreamError).Inc()
	case "recording/error":
		policy := ev.Detail["on_failure"]
		if policy != "fail-open" {
			policy = "fail-closed"
		}
		m.recFailures.WithLabelValues(policy).Inc()
	case "purge/ok":
		m.purgedFiles.Inc()
		m.purgedBytes.Add(detailNumber(ev, "bytes"))
	case "web_login/ok":
		m.webLogins.WithLabelValues("ok").Inc()
	case "web_login/denied":
		m.webLogins.WithLabelValues("denied").Inc()
	}
}

// endOutcome classifies a "session ended" event by its exit status, exit
// signal and reason (set when the bastion, not the program, ended it).
func endOutcome(ev store.AuditEvent) string {
	status, signal := ev.Detail["exit_status"], ev.Detail["exit_signal"]
	switch {
	case status == "" && signal == "":
		return OutcomeDisconnected
	case ev.Reason != "":
		return OutcomeAborted
	case status == "0" && signal == "":
		return OutcomeOK
	default:
		return OutcomeExitError
	}
}

// detailNumber reads a non-negative integer detail; anything else is 0.
func detailNumber(ev store.AuditEvent, key string) float64 {
	n, err := strconv.ParseInt(ev.Detail[key], 10, 64)
	if err != nil || n < 0 {
		return 0
	}
	return float64(n)
}

// Index returns a recorder index that counts the bytes of each finished
// recording file, then passes its metadata on to next.
func (m *Metrics) Index(next recorder.Index) recorder.Index {
	return countingIndex{m: m, next: next}
}

type countingIndex struct {
	m    *Metrics
	next recorder.Index
}

func (x countingIndex) Started(ctx context.Context, r recording.Meta) error {
	return x.next.Started(ctx, r)
}

func (x countingIndex) Finished(ctx context.Context, r recording.Meta) error {
	if r.FileSize > 0 {
		x.m.recBytes.Add(float64(r.FileSize))
	}
	return x.next.Finished(ctx, r)
}

// maxReasons bounds the distinct reason labels: reasons are fixed strings
// in the code today, and a future one that embeds an address must not
// grow the series without end.
const maxReasons = 16

// boundedLabels turns free text into a label value, and folds every value
// past the first max distinct ones into "other". mu guards seen.
type boundedLabels struct {
	max  int
	mu   sync.Mutex
	seen map[string]bool
}

func (b *boundedLabels) get(text string) string {
	v := labelValue(text)
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.seen == nil {
		b.seen = map[string]bool{labelValue(reasonNoKey): true}
	}
	if b.seen[v] {
		return v
	}
	if len(b.seen) >= b.max {
		return "other"
	}
	b.seen[v] = true
	return v
}

// labelValue makes a short snake_case label value of free text: "no
// authorized key" becomes "no_authorized_key".
func labelValue(text string) string {
	var b strings.Builder
	under := false
	for _, r := range strings.ToLower(text) {
		if ('a' <= r && r <= 'z') || ('0' <= r && r <= '9') {
			b.WriteRune(r)
			under = false
		} else if !under && b.Len() > 0 {
			b.WriteByte('_')
			under = true
		}
		if b.Len() >= 48 {
			break
		}
	}
	v := strings.TrimSuffix(b.String(), "_")
	if v == "" {
		return "unknown"
	}
	return v
}
