package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"
)

// report is what the harness prints and writes as JSON.
type report struct {
	Date    time.Time    `json:"date"`
	Machine machine      `json:"machine"`
	Options options      `json:"options"`
	Paths   []string     `json:"paths"`
	Metrics []*metric    `json:"metrics"`
	Goals   []goalResult `json:"goals"`
	Seconds float64      `json:"duration_seconds"`
}

// goal is one line of issue 18's goals (issue 6's, tightened), evaluated on recording on
// (jc-rec) against a reference path from the same run.
type goal struct {
	name    string
	metric  string
	ref     string  // reference path; "" for an absolute limit
	atLeast bool    // the value must be ≥ limit (else ≤)
	limit   float64 // a ratio to ref, or an absolute value in the metric's unit
	loss    bool    // the value is 1 - jc-rec/ref (throughput loss vs ref)
}

var goals = []goal{
	{name: "bulk, no PTY ≥ 1.0× ProxyJump", metric: "bulk_mbps", ref: pathProxyJump, atLeast: true, limit: 1.0},
	{name: "text bulk, PTY ≥ 1.0× ProxyJump", metric: "pty_mbps", ref: pathProxyJump, atLeast: true, limit: 1.0},
	{name: "recording loss ≤ 5% (PTY text vs jc-norec)", metric: "pty_mbps", ref: pathNorec, limit: 0.05, loss: true},
	{name: "echo p50 ≤ 1.1× ProxyJump", metric: "echo_p50_us", ref: pathProxyJump, limit: 1.1},
	{name: "echo p99 ≤ 1.0× ProxyJump", metric: "echo_p99_us", ref: pathProxyJump, limit: 1.0},
	{name: "setup ≤ 1.25× direct (the goal is for cold setup: -reuse-idle 0s, KEX pinned)", metric: "setup_ms", ref: pathDirect, limit: 1.25},
	{name: "parallel bulk wall ≤ 1.0× ProxyJump", metric: "conc_wall_s", ref: pathProxyJump, limit: 1.0},
	// Issue 18 says 60 MiB; the metric is in MB (10⁶ bytes).
	{name: "bastion PSS ≤ 60 MiB (62.9 MB) during parallel bulk", metric: "conc_peak_pss_mb", limit: 60 * (1 << 20) / 1e6},
	{name: "≤ 150 KB PSS per idle session", metric: "idle_pss_kb", limit: 150},
}

// goalResult is a goal's verdict.
type goalResult struct {
	Goal   string  `json:"goal"`
	Value  float64 `json:"value"` // ratio, absolute value or loss fraction
	Met    bool    `json:"met"`
	Detail string  `json:"detail"`
}

// evaluate checks every goal whose inputs were measured.
func evaluate(c *collector) []goalResult {
	var out []goalResult
	for _, g := range goals {
		m := c.byKey[g.metric]
		v, ok := m.Median[pathRec]
		if !ok {
			continue
		}
		unit := m.Unit
		if g.ref != "" {
			r, ok := m.Median[g.ref]
			if !ok || r == 0 {
				continue
			}
			v, unit = v/r, "×"
			if g.loss {
				v, unit = 1-v, ""
			}
		}
		met := v <= g.limit
		if g.atLeast {
			met = v >= g.limit
		}
		out = append(out, goalResult{Goal: g.name, Value: v, Met: met, Detail: verdict(g, v, met, unit)})
	}
	return out
}

// verdict says by how much a goal is met or missed.
func verdict(g goal, v float64, met bool, unit string) string {
	word := "met"
	if !met {
		word = "MISSED"
	}
	if g.loss {
		return fmt.Sprintf("%s: loss %.1f%% (limit %.0f%%)", word, v*100, g.limit*100)
	}
	gap := (v/g.limit - 1) * 100
	if g.atLeast {
		gap = -gap
	}
	// gap > 0: worse than the limit by gap%; < 0: better by -gap%.
	how := fmt.Sprintf("%.0f%% inside the limit", -gap)
	switch {
	case gap > 0 && g.atLeast:
		how = fmt.Sprintf("%.0f%% below the limit", gap)
	case gap > 0:
		how = fmt.Sprintf("%.0f%% over the limit", gap)
	}
	return fmt.Sprintf("%s: %s%s (%s)", word, num(v), unit, how)
}

// printTable writes the table: medians per path, then ratios of recording
// on to the references.
func printTable(w io.Writer, r *report) {
	load := strings.Fields(r.Machine.LoadAvg)
	if len(load) > 3 {
		load = load[:3]
	}
	fmt.Fprintf(w, "\njumpcast bench %s — %s, %d cores, %s; %s; load %s\n", r.Date.Format("2006-01-02 15:04 MST"),
		r.Machine.CPU, r.Machine.Cores, r.Machine.OpenSSH, shortCommit(r.Machine), strings.Join(load, " "))
	reuse := "upstream.reuse_idle default"
	if r.Options.ReuseIdle != "" {
		reuse = "upstream.reuse_idle " + r.Options.ReuseIdle
	}
	if r.Options.Cipher != "" {
		reuse += ", clients pinned to " + r.Options.Cipher
	} else {
		reuse += ", clients' default ciphers"
	}
	if r.Options.UpstreamWindow != "" {
		reuse += ", upstream.channel_window " + r.Options.UpstreamWindow
	}
	for _, k := range goRuntimeVars {
		if v, ok := r.Machine.GoEnv[k]; ok {
			reuse += "; " + k + "=" + v
		}
	}
	if b := filepath.Base(r.Options.NorecBin); b != "jumpcast-norec" {
		reuse += "; the jc-norec column is " + b
	}
	fmt.Fprintf(w, "medians of %d repetitions; bulk %s, text %s, parallel %d × %s, %d idle sessions (ProxyJump %d); %s\n\n",
		r.Options.Reps, size(r.Options.BulkBytes), size(r.Options.TextBytes), r.Options.Parallel,
		size(r.Options.ParallelBytes), r.Options.Idle, min(r.Options.Idle, r.Options.IdleProxyJump), reuse)
	width := 0
	for _, m := range r.Metrics {
		width = max(width, utf8.RuneCountInString(m.Label))
	}
	left := func(s string) string { return s + strings.Repeat(" ", width-utf8.RuneCountInString(s)) }
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	head := []string{left("metric"), "unit"}
	head = append(head, r.Paths...)
	head = append(head, "rec/direct", "rec/PJ", "rec/norec", "")
	fmt.Fprintln(tw, strings.Join(head, "\t"))
	for _, m := range r.Metrics {
		if len(m.Median) == 0 {
			continue
		}
		row := []string{left(m.Label), m.Unit}
		for _, p := range r.Paths {
			row = append(row, cell(m.Median, p))
		}
		for _, ref := range []string{pathDirect, pathProxyJump, pathNorec} {
			row = append(row, ratio(m.Median, pathRec, ref))
		}
		fmt.Fprintln(tw, strings.Join(row, "\t")+"\t")
	}
	_ = tw.Flush()
	if len(r.Goals) > 0 {
		fmt.Fprintln(w, "\ngoals (issue 18, recording on):")
		for _, g := range r.Goals {
			fmt.Fprintf(w, "  %-46s %s\n", g.Goal, g.Detail)
		}
	}
}

func cell(m map[string]float64, p string) string {
	v, ok := m[p]
	if !ok || math.IsNaN(v) {
		return "—"
	}
	return num(v)
}

func ratio(m map[string]float64, a, b string) string {
	x, ok1 := m[a]
	y, ok2 := m[b]
	if !ok1 || !ok2 || y == 0 || math.IsNaN(x) || math.IsNaN(y) {
		return "—"
	}
	return fmt.Sprintf("%.2f×", x/y)
}

// num prints about three significant digits.
func num(v float64) string {
	a := math.Abs(v)
	switch {
	case a >= 100:
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	case a >= 1:
		return fmt.Sprintf("%.2f", v)
	default:
		return fmt.Sprintf("%.3f", v)
	}
}

func size(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%dKiB", n>>10)
	}
	return fmt.Sprintf("%dB", n)
}

func shortCommit(m machine) string {
	c := m.Commit
	if len(c) > 12 {
		c = c[:12]
	}
	if m.Dirty {
		c += "-dirty"
	}
	return "commit " + c
}

// writeJSON writes r to dir/<date>[-quick].json and returns the path.
func writeJSON(dir string, r *report) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("results folder: %w", err)
	}
	name := r.Date.UTC().Format("2006-01-02T150405Z")
	if r.Options.Quick {
		name += "-quick"
	}
	p := filepath.Join(dir, name+".json")
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return "", fmt.Errorf("encode results: %w", err)
	}
	if err := os.WriteFile(p, append(data, '\n'), 0o644); err != nil {
		return "", fmt.Errorf("write results: %w", err)
	}
	return p, nil
}
