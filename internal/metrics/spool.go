package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Spool is what the metrics read of a node's spool with storage s3: the
// recordings waiting for their upload and the bytes the spool holds, and
// how far the streaming of running sessions lags.
type Spool struct {
	Pending func() int
	Bytes   func() int64
	// StreamLag: bytes of running sessions not in the bucket yet, and the
	// age of the oldest of them.
	StreamLag func() (int64, time.Duration)
}

// RegisterSpool exposes s as gauges (call once).
func (m *Metrics) RegisterSpool(s Spool) {
	m.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "jumpcast_spool_pending_recordings",
			Help: "Closed recordings in the spool waiting for their upload to the bucket (the upload backlog).",
		}, func() float64 { return float64(s.Pending()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "jumpcast_spool_bytes",
			Help: "Bytes of recording files in the spool (running sessions' and those waiting for their upload).",
		}, func() float64 { return float64(s.Bytes()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "jumpcast_stream_lag_bytes",
			Help: "Bytes of running sessions' recordings not yet sent to the bucket.",
		}, func() float64 { b, _ := s.StreamLag(); return float64(b) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "jumpcast_stream_lag_seconds",
			Help: "How long the oldest recorded byte not yet sent to the bucket has waited.",
		}, func() float64 { _, d := s.StreamLag(); return d.Seconds() }),
	)
}
