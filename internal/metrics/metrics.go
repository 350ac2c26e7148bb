package metrics

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/jumpcast/jumpcast/config"
	"github.com/jumpcast/jumpcast/internal/audit"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Options are what the collectors read from the running program.
type Options struct {
	// ActiveSessions reports the open session and forwarding channels
	// (proxy.Server.ActiveSessions). Nil leaves jumpcast_active_sessions
	// out.
	ActiveSessions func() int
	// Logger receives errors met while serving /metrics. Nil discards them.
	Logger *slog.Logger
}

// Session outcomes, the values of jumpcast_sessions_total{outcome}.
const (
	OutcomeOK            = "ok"             // the remote command or shell exited 0
	OutcomeExitError     = "exit_error"     // it exited non-zero or was killed by a signal
	OutcomeAborted       = "aborted"        // the bastion ended it (recording failed, shutdown, target lost)
	OutcomeDisconnected  = "disconnected"   // it ended without an exit status (client or target went away)
	OutcomeDenied        = "denied"         // refused by policy or a malformed login name
	OutcomeUpstreamError = "upstream_error" // the target could not be reached or refused the bastion
)

// Metrics holds jumpcast's collectors and the registry they live on. Its
// methods are safe for concurrent use.
type Metrics struct {
	reg *prometheus.Registry
	log *slog.Logger

	sessions     *prometheus.CounterVec   // outcome
	authFailures *prometheus.CounterVec   // reason
	dial         *prometheus.HistogramVec // outcome
	proxied      *prometheus.CounterVec   // direction: in (admin to target), out
	recBytes     prometheus.Counter
	recFailures  *prometheus.CounterVec // policy: fail-closed, fail-open
	purgedFiles  prometheus.Counter
	purgedBytes  prometheus.Counter
	webLogins    *prometheus.CounterVec // outcome: ok, denied
}

// dialBuckets span a loopback dial (a few ms) to a slow WAN handshake
// and the 10s dial timeout plus 15s handshake timeout.
var dialBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

// New builds the collectors on a new registry, together with the Go
// runtime and process collectors. Label values that are known in advance
// are created at zero, so every series is exposed from the start.
func New(o Options) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry(), log: o.Logger}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	m.sessions = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "jumpcast_sessions_total",
		Help: "SSH sessions through the bastion, by how they ended (ok, exit_error, aborted, disconnected) or were refused (denied, upstream_error).",
	}, []string{"outcome"})
	m.authFailures = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "jumpcast_auth_failures_total",
		Help: "SSH connections that failed to authenticate to the bastion, by reason.",
	}, []string{"reason"})
	m.dial = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "jumpcast_upstream_dial_duration_seconds",
		Help:    "Time to connect to a target: TCP connect, SSH handshake, host-key check and authentication, by outcome.",
		Buckets: dialBuckets,
	}, []string{"outcome"})
	m.proxied = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "jumpcast_proxied_bytes_total",
		Help: "Session bytes through the bastion, counted when each session ends: in = admin to target, out = target to admin (stdout and stderr).",
	}, []string{"direction"})
	m.recBytes = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "jumpcast_recording_bytes_total",
		Help: "Bytes written to recording files, counted when each recording is closed.",
	})
	m.recFailures = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "jumpcast_recording_failures_total",
		Help: "Recordings that could not be started or written, by the failure policy applied (fail-closed ended the session, fail-open let it go on).",
	}, []string{"policy"})
	m.purgedFiles = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "jumpcast_purged_recordings_total",
		Help: "Recordings removed by the retention limits (recording.max_age, recording.max_total_size).",
	})
	m.purgedBytes = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "jumpcast_purged_bytes_total",
		Help: "Bytes of recording files removed by the retention limits.",
	})
	m.webLogins = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "jumpcast_web_logins_total",
		Help: "Password logins to the web site, by outcome (ok, denied).",
	}, []string{"outcome"})

	m.reg.MustRegister(m.sessions, m.authFailures, m.dial, m.proxied, m.recBytes, m.recFailures,
		m.purgedFiles, m.purgedBytes, m.webLogins,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if f := o.ActiveSessions; f != nil {
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "jumpcast_active_sessions",
			Help: "Session and forwarding channels open now.",
		}, func() float64 { return float64(f()) }))
	}
	for _, o := range []string{OutcomeOK, OutcomeExitError, OutcomeAborted, OutcomeDisconnected, OutcomeDenied, OutcomeUpstreamError} {
		m.sessions.WithLabelValues(o)
	}
	m.authFailures.WithLabelValues(labelValue(string(audit.ReasonNoAuthorizedKey)))
	for _, o := range []string{"ok", "unreachable", "hostkey", "auth_failed", "error", "reused"} {
		m.dial.WithLabelValues(o)
	}
	m.proxied.WithLabelValues("in")
	m.proxied.WithLabelValues("out")
	m.recFailures.WithLabelValues(config.FailClosed)
	m.recFailures.WithLabelValues(config.FailOpen)
	m.webLogins.WithLabelValues("ok")
	m.webLogins.WithLabelValues("denied")
	return m
}

// Registry is where the collectors live, for tests and extra collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in the Prometheus text format. It does not
// authenticate: mount it behind a guard or on a private listener.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorLog:            slog.NewLogLogger(m.log.Handler(), slog.LevelWarn),
		ErrorHandling:       promhttp.ContinueOnError,
		Registry:            m.reg, // adds promhttp_metric_handler_errors_total
		MaxRequestsInFlight: 4,
	})
}

// ObserveDial records one attempt to connect to a target. Its signature is
// proxy.Options.OnDial; outcome is one of proxy's Dial* constants.
func (m *Metrics) ObserveDial(outcome string, took time.Duration) {
	m.dial.WithLabelValues(labelValue(outcome)).Observe(took.Seconds())
}
