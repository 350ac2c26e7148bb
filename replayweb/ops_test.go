package replayweb

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/jumpcast/jumpcast/internal/metrics"
)

// TestProbesAreAnonymousAndSayWhy: /healthz and /readyz need no login,
// answer "ok" while their checks pass and 503 with the check's short
// reason when not, with the site's security headers either way.
func TestProbesAreAnonymousAndSayWhy(t *testing.T) {
	var liveErr, readyErr error
	e := newEnv(t, func(o *Options) {
		o.Health = func(context.Context) error { return liveErr }
		o.Ready = func(context.Context) error { return readyErr }
	})
	c := e.client()
	for _, p := range []string{"/healthz", "/readyz"} {
		if res, body := c.get(p); res.StatusCode != 200 || body != "ok\n" {
			t.Errorf("%s: %d %q", p, res.StatusCode, body)
		}
	}
	readyErr = errors.New("index not answering")
	if res, body := c.get("/readyz"); res.StatusCode != 503 || body != "unhealthy: index not answering\n" {
		t.Errorf("/readyz failing: %d %q", res.StatusCode, body)
	}
	if res, _ := c.get("/healthz"); res.StatusCode != 200 {
		t.Errorf("/healthz while only readiness fails: %d", res.StatusCode)
	}
	liveErr = errors.New("data folder not writable")
	res, body := c.get("/healthz")
	if res.StatusCode != 503 || body != "unhealthy: data folder not writable\n" {
		t.Errorf("/healthz failing: %d %q", res.StatusCode, body)
	}
	if res.Header.Get("Content-Security-Policy") != csp || res.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("/healthz headers: %v", res.Header)
	}
	// Without a readiness check there is no /readyz.
	if res, _ := newEnv(t, nil).client().get("/readyz"); res.StatusCode == 200 {
		t.Errorf("/readyz without Options.Ready: %d", res.StatusCode)
	}
}

// TestMetricsNeedsAnAuditorOrToken: /metrics on the web listener is
// refused to anonymous callers and bad tokens, and served to an API token
// and to a logged-in auditor.
func TestMetricsNeedsAnAuditorOrToken(t *testing.T) {
	m := metrics.New(metrics.Options{ActiveSessions: func() int { return 0 }})
	e := newEnv(t, func(o *Options) { o.Metrics = m.Handler() })
	secret, tok := NewAPIToken()
	tok.Owner, tok.Name = "alice", "prometheus"
	if err := e.store.PutToken(t.Context(), tok); err != nil {
		t.Fatal(err)
	}
	anon := e.client()
	if res, body := anon.get("/metrics"); res.StatusCode != http.StatusUnauthorized || strings.Contains(body, "jumpcast_") {
		t.Errorf("anonymous /metrics: %d %.100q", res.StatusCode, body)
	}
	anon.hdr.Set("Authorization", "Bearer jct_not-a-token")
	if res, _ := anon.get("/metrics"); res.StatusCode != http.StatusUnauthorized {
		t.Errorf("/metrics with a bad token: %d", res.StatusCode)
	}
	bearer := e.client()
	bearer.hdr.Set("Authorization", "Bearer "+secret)
	if res, body := bearer.get("/metrics"); res.StatusCode != 200 || !strings.Contains(body, "# HELP jumpcast_sessions_total") {
		t.Errorf("/metrics with a token: %d %.200q", res.StatusCode, body)
	}
	auditor := e.client()
	auditor.login("alice", testPassword)
	if res, body := auditor.get("/metrics"); res.StatusCode != 200 || !strings.Contains(body, "jumpcast_active_sessions 0") {
		t.Errorf("/metrics as a logged-in auditor: %d %.200q", res.StatusCode, body)
	}
}
