package metrics

import (
	"context"
	"strconv"
	"strings"
	"sync"

	"github.com/jumpcast/jumpcast/config"
	"github.com/jumpcast/jumpcast/internal/audit"
	"github.com/jumpcast/jumpcast/internal/recording"
	"github.com/jumpcast/jumpcast/recorder"
)

// CountingSink returns a sink that counts each event, then passes it to
// next. An event is counted even when next fails to store it: the metric
// says what happened, the store error is next's to report.
func (m *Metrics) CountingSink(next audit.Sink) audit.Sink {
	return &countingSink{m: m, next: next, reasons: boundedLabels{max: maxReasons}}
}

type countingSink struct {
	m       *Metrics
	next    audit.Sink
	reasons boundedLabels // values of jumpcast_auth_failures_total{reason}
}

func (a *countingSink) AppendAudit(ctx context.Context, ev audit.Event) error {
	a.m.count(ev, &a.reasons)
	return a.next.AppendAudit(ctx, ev)
}

// count maps one audit event to the series it moves. The events are those
// of package audit's constructors: proxy's (auth, policy, session,
// upstream, recording), replayweb's (web_login) and the retention job's
// (purge).
func (m *Metrics) count(ev audit.Event, reasons *boundedLabels) {
	type event struct {
		kind    audit.Kind
		outcome audit.Outcome
	}
	switch (event{ev.Kind, ev.Outcome}) {
	case event{audit.KindAuth, audit.OutcomeDenied}:
		m.authFailures.WithLabelValues(reasons.get(ev.Reason)).Inc()
	case event{audit.KindSession, audit.OutcomeEnded}:
		m.sessions.WithLabelValues(endOutcome(ev)).Inc()
		m.proxied.WithLabelValues("in").Add(detailNumber(ev, audit.DetailBytesIn))
		m.proxied.WithLabelValues("out").Add(detailNumber(ev, audit.DetailBytesOut))
	case event{audit.KindSession, audit.OutcomeDenied}, event{audit.KindPolicy, audit.OutcomeDenied}:
		m.sessions.WithLabelValues(OutcomeDenied).Inc()
	case event{audit.KindUpstream, audit.OutcomeError}:
		m.sessions.WithLabelValues(OutcomeUpstreamError).Inc()
	case event{audit.KindRecording, audit.OutcomeError}:
		policy := ev.Detail[audit.DetailOnFailure]
		if policy != config.FailOpen {
			policy = config.FailClosed
		}
		m.recFailures.WithLabelValues(policy).Inc()
	case event{audit.KindPurge, audit.OutcomeOK}:
		m.purgedFiles.Inc()
		m.purgedBytes.Add(detailNumber(ev, audit.DetailBytes))
	case event{audit.KindWebLogin, audit.OutcomeOK}:
		m.webLogins.WithLabelValues("ok").Inc()
	case event{audit.KindWebLogin, audit.OutcomeDenied}:
		m.webLogins.WithLabelValues("denied").Inc()
	}
}

// endOutcome classifies a "session ended" event by its exit status, exit
// signal and reason (set when the bastion, not the program, ended it).
func endOutcome(ev audit.Event) string {
	status, signal := ev.Detail[audit.DetailExitStatus], ev.Detail[audit.DetailExitSignal]
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
func detailNumber(ev audit.Event, key audit.DetailKey) float64 {
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

func (b *boundedLabels) get(reason audit.Reason) string {
	v := labelValue(string(reason))
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.seen == nil {
		b.seen = map[string]bool{labelValue(string(audit.ReasonNoAuthorizedKey)): true}
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
