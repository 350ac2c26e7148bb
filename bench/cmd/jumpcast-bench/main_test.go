package main

import (
	"strings"
	"testing"
	"time"
)

func TestSizeFlag(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		bad  bool
	}{
		{"", 7, false},
		{"4096", 4096, false},
		{"512M", 512 << 20, false},
		{"20MiB", 20 << 20, false},
		{"1g", 1 << 30, false},
		{"64k", 64 << 10, false},
		{"0", 0, true},
		{"-1M", 0, true},
		{"lots", 0, true},
	} {
		got, err := sizeFlag(tc.in, 7)
		if (err != nil) != tc.bad || got != tc.want {
			t.Errorf("sizeFlag(%q) = %d, %v; want %d, error %v", tc.in, got, err, tc.want, tc.bad)
		}
	}
}

func TestMedianAndPercentile(t *testing.T) {
	if got := median([]float64{3, 1, 2}); got != 2 {
		t.Errorf("median odd = %v, want 2", got)
	}
	if got := median([]float64{4, 1, 3, 2}); got != 2.5 {
		t.Errorf("median even = %v, want 2.5", got)
	}
	var d []time.Duration
	for i := 1; i <= 1000; i++ {
		d = append(d, time.Duration(i))
	}
	if p50, p99 := percentile(d, 0.5), percentile(d, 0.99); p50 != 500 || p99 != 990 {
		t.Errorf("p50, p99 = %v, %v; want 500, 990", p50, p99)
	}
}

// TestGoals pins the direction of each comparison: a reader trusts "met".
func TestGoals(t *testing.T) {
	c := newCollector()
	c.add("bulk_mbps", pathRec, 100)
	c.add("bulk_mbps", pathProxyJump, 125) // 0.8×: missed
	c.add("setup_ms", pathRec, 90)
	c.add("setup_ms", pathDirect, 100) // 0.9×: met
	c.add("idle_pss_kb", pathRec, 250) // absolute, over 150: missed
	c.add("pty_mbps", pathRec, 96)
	c.add("pty_mbps", pathNorec, 100) // loss 4%: met
	c.summarize()
	got := map[string]goalResult{}
	for _, g := range evaluate(c) {
		got[g.Goal] = g
	}
	for name, met := range map[string]bool{
		"bulk, no PTY ≥ 1.0× ProxyJump":                                                 false,
		"setup ≤ 1.25× direct (the goal is for cold setup: -reuse-idle 0s, KEX pinned)": true,
		"≤ 150 KB PSS per idle session":                                                 false,
		"recording loss ≤ 5% (PTY text vs jc-norec)":                                    true,
	} {
		g, ok := got[name]
		if !ok || g.Met != met {
			t.Errorf("%s: got %+v, want met=%v", name, g, met)
		}
	}
	if g := got["bulk, no PTY ≥ 1.0× ProxyJump"]; !strings.Contains(g.Detail, "20% below") {
		t.Errorf("bulk detail = %q, want the 20%% gap", g.Detail)
	}
	if len(got) != 4 {
		t.Errorf("evaluated %d goals, want only the 4 with data: %+v", len(got), got)
	}
}
