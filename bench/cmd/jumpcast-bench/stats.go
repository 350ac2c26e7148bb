package main

import (
	"math"
	"slices"
	"time"
)

// metric is one row of the table: samples per path, summarized by their
// median.
type metric struct {
	Key    string               `json:"key"`
	Label  string               `json:"label"`
	Unit   string               `json:"unit"`
	Better string               `json:"better"` // "higher" or "lower"
	Values map[string][]float64 `json:"samples"`
	Median map[string]float64   `json:"median"`
}

// metricSpec declares the rows in table order.
var metricSpecs = []metric{
	{Key: "bulk_mbps", Label: "bulk, no PTY (zeros)", Unit: "MB/s", Better: "higher"},
	{Key: "text_mbps", Label: "text bulk, no PTY", Unit: "MB/s", Better: "higher"},
	{Key: "pty_mbps", Label: "text bulk, PTY (ssh -tt)", Unit: "MB/s", Better: "higher"},
	{Key: "setup_ms", Label: "setup (ssh PATH true)", Unit: "ms", Better: "lower"},
	{Key: "echo_p50_us", Label: "keystroke echo p50", Unit: "µs", Better: "lower"},
	{Key: "echo_p99_us", Label: "keystroke echo p99", Unit: "µs", Better: "lower"},
	{Key: "conc_wall_s", Label: "parallel bulk, wall", Unit: "s", Better: "lower"},
	{Key: "conc_peak_rss_mb", Label: "bastion peak RSS, parallel", Unit: "MB", Better: "lower"},
	{Key: "conc_peak_pss_mb", Label: "bastion peak PSS, parallel", Unit: "MB", Better: "lower"},
	{Key: "settle_wait_s", Label: "wait for index children, per run", Unit: "s", Better: "lower"},
	{Key: "idle_rss_kb", Label: "bastion RSS per idle session", Unit: "KB", Better: "lower"},
	{Key: "idle_pss_kb", Label: "bastion PSS per idle session", Unit: "KB", Better: "lower"},
	{Key: "cpu_bulk_s_per_gb", Label: "bastion CPU, bulk", Unit: "s/GB", Better: "lower"},
	{Key: "cpu_text_s_per_gb", Label: "bastion CPU, text", Unit: "s/GB", Better: "lower"},
	{Key: "cpu_pty_s_per_gb", Label: "bastion CPU, PTY text", Unit: "s/GB", Better: "lower"},
	{Key: "rec_ratio_bulk", Label: "recorded bytes per byte, bulk", Unit: "B/B", Better: "lower"},
	{Key: "rec_ratio_text", Label: "recorded bytes per byte, text", Unit: "B/B", Better: "lower"},
	{Key: "rec_ratio_pty", Label: "recorded bytes per byte, PTY", Unit: "B/B", Better: "lower"},
}

// collector gathers samples. It is used from the harness's main goroutine only.
type collector struct {
	rows  []*metric
	byKey map[string]*metric
}

func newCollector() *collector {
	c := &collector{byKey: map[string]*metric{}}
	for _, s := range metricSpecs {
		m := s
		m.Values, m.Median = map[string][]float64{}, map[string]float64{}
		c.rows = append(c.rows, &m)
		c.byKey[m.Key] = &m
	}
	return c
}

// add records one sample; it panics on an undeclared key (a harness bug).
func (c *collector) add(key, path string, v float64) {
	m := c.byKey[key]
	m.Values[path] = append(m.Values[path], v)
}

// summarize fills every metric's medians.
func (c *collector) summarize() {
	for _, m := range c.rows {
		for p, vs := range m.Values {
			m.Median[p] = median(vs)
		}
	}
}

// median of vs (NaN when empty).
func median(vs []float64) float64 {
	if len(vs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// percentile of sorted durations, nearest rank (q in (0,1]).
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}
