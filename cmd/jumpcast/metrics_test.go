package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/creack/pty"
	"github.com/jumpcast/jumpcast/config"
	"github.com/jumpcast/jumpcast/internal/metrics"
	"github.com/jumpcast/jumpcast/internal/metrics/metricstest"
	"github.com/jumpcast/jumpcast/internal/recording"
	"github.com/jumpcast/jumpcast/internal/sshtest"
)

// The series issue 8 lists, each with a HELP line.
var metricFamilies = []string{
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

// startMetricsE2E is startE2E with the unauthenticated metrics listener
// on; it returns that listener's address, read from the JSON start line.
func startMetricsE2E(t *testing.T) (*e2e, string) {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test")
	}
	sshtest.RequireBinary(t, "/usr/sbin/sshd", "/usr/bin/ssh")
	e := &e2e{key: sshtest.NewKeyPair(t), dataDir: filepath.Join(t.TempDir(), "data")}
	e.sshd = sshtest.StartSSHD(t, sshtest.SSHDOptions{AuthorizedKeys: []gossh.PublicKey{e.key.Public}})
	e.cfgPath = writeConfig(t, e.dataDir, e.key.AuthorizedLine, e.key.PrivatePath, e.sshd.Addr, e.sshd.User(),
		"metrics:\n  listen: \"127.0.0.1:0\"\n")
	e.client = sshtest.NewClientConfig(t, e.key)
	e.srv = startServer(t, e.cfgPath)
	started := waitLogLine(t, e.srv, func(l map[string]any) bool { return l["msg"] == "jumpcast started" })
	ops, _ := started["metrics"].(string)
	if ops == "" || ops == "off" {
		t.Fatalf("start line has no metrics address: %v", started)
	}
	return e, ops
}

// logLines parses the child's stderr as JSON lines; a line that is not
// JSON fails the test (the child's stderr is not a terminal).
func logLines(t *testing.T, s *server) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(s.Stderr.String()))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("log line is not JSON: %q", sc.Text())
		}
		out = append(out, m)
	}
	return out
}

// waitLogLine waits up to 15 s for a log line that ok accepts.
func waitLogLine(t *testing.T, s *server, ok func(map[string]any) bool) map[string]any {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		for _, l := range logLines(t, s) {
			if ok(l) {
				return l
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no such log line in 15s; stderr:\n%s", s.Stderr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// scrapeMetrics GETs a /metrics with an optional bearer token and returns
// its samples by series ("name{labels}") and its HELP texts.
func scrapeMetrics(t *testing.T, u, token string) (map[string]float64, map[string]string) {
	t.Helper()
	code, body := httpGet(t, u, token)
	if code != http.StatusOK {
		t.Fatalf("GET %s: %d %.300s", u, code, body)
	}
	samples, help, err := metricstest.Parse(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return samples, help
}

func httpGet(t *testing.T, u, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	c := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = res.Body.Close() }()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// createToken makes an auditor and an API token with the CLI (through the
// admin socket) and returns the token's secret.
func createToken(t *testing.T, cfgPath string) string {
	t.Helper()
	if _, errOut, code := runJumpcast(t, "a long enough password\n", "auditor", "add", "carol", "-c", cfgPath); code != 0 {
		t.Fatalf("auditor add: exit %d: %s", code, errOut)
	}
	out, errOut, code := runJumpcast(t, "", "token", "create", "--owner", "carol", "--name", "prometheus", "-c", cfgPath)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 2 || !strings.HasPrefix(lines[1], "jct_") {
		t.Fatalf("token create: exit %d: %q %s", code, out, errOut)
	}
	return lines[1]
}

var csrfInput = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

// failWebLogin tries the login form with a wrong password.
func failWebLogin(t *testing.T, webAddr string) {
	t.Helper()
	if _, code := postWebLogin(t, webAddr, "carol", "not the password"); code != http.StatusUnauthorized {
		t.Fatalf("wrong web password: %d, want 401", code)
	}
}

// webLogin logs in through the form and returns a client holding the
// login cookie.
func webLogin(tb testing.TB, webAddr, name, pw string) *http.Client {
	tb.Helper()
	c, code := postWebLogin(tb, webAddr, name, pw)
	if code != http.StatusSeeOther && code != http.StatusFound {
		tb.Fatalf("web login as %s: %d", name, code)
	}
	return c
}

// postWebLogin fetches the login page and posts its form as a browser
// would; it returns the client (with its cookies, not following
// redirects) and the status of the post.
func postWebLogin(tb testing.TB, webAddr, name, pw string) (*http.Client, int) {
	tb.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.Get("http://" + webAddr + "/login")
	if err != nil {
		tb.Fatal(err)
	}
	page, _ := io.ReadAll(res.Body)
	_ = res.Body.Close()
	m := csrfInput.FindSubmatch(page)
	if m == nil {
		tb.Fatalf("login page has no form token: %.300s", page)
	}
	res, err = c.PostForm("http://"+webAddr+"/login", url.Values{"_csrf": {string(m[1])}, "name": {name}, "password": {pw}})
	if err != nil {
		tb.Fatal(err)
	}
	_ = res.Body.Close()
	return c, res.StatusCode
}

// webStatus is the status of a GET with c's cookies.
func webStatus(tb testing.TB, c *http.Client, u string) int {
	tb.Helper()
	res, err := c.Get(u)
	if err != nil {
		tb.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	_ = res.Body.Close()
	return res.StatusCode
}

// TestMetricsAfterARealSession: after one session through the real ssh
// client, one refused key and one wrong web password, /metrics (web
// listener with an API token, and the metrics listener) exposes every
// series with the counts a user would expect, and the server logged the
// session's open and close lines with the stable keys.
func TestMetricsAfterARealSession(t *testing.T) {
	e, ops := startMetricsE2E(t)
	web := "http://" + e.srv.WebAddr + "/metrics"
	if code, body := httpGet(t, web, ""); code != http.StatusUnauthorized || strings.Contains(body, "jumpcast_") {
		t.Errorf("anonymous /metrics on the web listener: %d %.100q", code, body)
	}
	if code, _ := httpGet(t, web, "jct_not-a-real-token"); code != http.StatusUnauthorized {
		t.Errorf("/metrics with a bad token: %d", code)
	}
	token := createToken(t, e.cfgPath)

	out, errOut, code := e.ssh(t, "", e.login(), "printf metrics-session-output")
	if code != 0 || out != "metrics-session-output" {
		t.Fatalf("ssh: exit %d, %q %s", code, out, errOut)
	}
	recs := waitRecordings(t, e.cfgPath, 1, func(r recording.Meta) bool { return r.Status == recording.StatusFinished })
	rec := recs[0]
	// A key the bastion does not know.
	stranger := sshtest.NewClientConfig(t, sshtest.NewKeyPair(t))
	if _, _, code, err := sshtest.Run(t.Context(), strings.NewReader(""), "ssh",
		"-F", stranger.ConfigPath, "-p", e.srv.SSHPort, e.login(), "true"); err != nil || code != 255 {
		t.Fatalf("ssh with an unknown key: exit %d, %v", code, err)
	}
	failWebLogin(t, e.srv.WebAddr)

	var samples map[string]float64
	var help map[string]string
	deadline := time.Now().Add(15 * time.Second)
	for { // the refused key is counted when its connection closes
		samples, help = scrapeMetrics(t, web, token)
		if samples[`jumpcast_auth_failures_total{reason="no_authorized_key"}`] >= 1 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, f := range metricFamilies {
		if help[f] == "" {
			t.Errorf("%s: not exposed with a HELP line", f)
		}
	}
	for series, want := range map[string]float64{
		`jumpcast_sessions_total{outcome="ok"}`:                       1,
		`jumpcast_sessions_total{outcome="denied"}`:                   0,
		`jumpcast_auth_failures_total{reason="no_authorized_key"}`:    1,
		`jumpcast_upstream_dial_duration_seconds_count{outcome="ok"}`: 1,
		`jumpcast_proxied_bytes_total{direction="out"}`:               float64(len(out)),
		`jumpcast_recording_bytes_total`:                              float64(rec.FileSize),
		`jumpcast_recording_failures_total{policy="fail-closed"}`:     0,
		`jumpcast_purged_recordings_total`:                            0,
		`jumpcast_web_logins_total{outcome="denied"}`:                 1,
		`jumpcast_active_sessions`:                                    0,
	} {
		if got, ok := samples[series]; !ok || got != want {
			t.Errorf("%s = %v (present %v), want %v", series, got, ok, want)
		}
	}
	if sum := samples[`jumpcast_upstream_dial_duration_seconds_sum{outcome="ok"}`]; sum <= 0 || sum > 30 {
		t.Errorf("dial duration sum %v s", sum)
	}
	// The metrics listener serves the same registry without a token.
	if opsSamples, _ := scrapeMetrics(t, "http://"+ops+"/metrics", ""); opsSamples[`jumpcast_sessions_total{outcome="ok"}`] != 1 {
		t.Errorf("metrics listener: sessions ok = %v", opsSamples[`jumpcast_sessions_total{outcome="ok"}`])
	}
	checkSessionLogLines(t, e, rec, len(out))
}

// checkSessionLogLines: one JSON line when the session opened and one when
// it closed, with the stable keys.
func checkSessionLogLines(t *testing.T, e *e2e, rec recording.Meta, outBytes int) {
	t.Helper()
	var opened, closed []map[string]any
	for _, l := range logLines(t, e.srv) {
		if l["session_id"] != rec.ID {
			continue
		}
		switch l["msg"] {
		case "session started":
			opened = append(opened, l)
		case "session ended":
			closed = append(closed, l)
		}
	}
	if len(opened) != 1 || len(closed) != 1 {
		t.Fatalf("session %s: %d open and %d close lines, want 1 and 1", rec.ID, len(opened), len(closed))
	}
	for _, l := range []map[string]any{opened[0], closed[0]} {
		if l["user"] != "alice" || l["target"] != "db1" || l["remote_user"] != e.sshd.User() ||
			!strings.HasPrefix(l["remote_addr"].(string), "127.0.0.1:") || l["level"] != "INFO" {
			t.Errorf("%s line: %v", l["msg"], l)
		}
	}
	c := closed[0]
	if c["exit_status"] != "0" {
		t.Errorf("close line exit_status = %#v, want \"0\"", c["exit_status"])
	}
	if d, err := time.ParseDuration(c["duration"].(string)); err != nil || d <= 0 {
		t.Errorf("close line duration = %#v", c["duration"])
	}
	b, _ := c["bytes"].(map[string]any)
	if b == nil || b["in"] != float64(0) || b["out"] != float64(outBytes) {
		t.Errorf("close line bytes = %#v, want in 0, out %d", c["bytes"], outBytes)
	}
}

// makeDirReadOnly makes dir refuse new files until undo: chmod 0500, and,
// because chmod does not stop root, when running as root also a
// directory where the probe writes its file.
func makeDirReadOnly(t *testing.T, dir string) (undo func()) {
	t.Helper()
	if err := os.Chmod(dir, 0o500); err != nil {
		t.Fatal(err)
	}
	block := ""
	if os.Geteuid() == 0 {
		t.Logf("running as root: chmod 0500 does not stop root; %s is also made a directory", metrics.ProbeFile)
		block = filepath.Join(dir, metrics.ProbeFile)
		if err := os.Mkdir(block, 0o500); err != nil {
			t.Fatal(err)
		}
	}
	return func() {
		if block != "" {
			_ = os.Remove(block)
		}
		_ = os.Chmod(dir, 0o700)
	}
}

// TestMetricsHealthWhenDataFolderIsReadOnly: /healthz and /readyz on the
// web listener (anonymous) and on the metrics listener answer "ok", turn
// 503 "data folder not writable" when the data folder is made read-only,
// and recover when it is writable again.
func TestMetricsHealthWhenDataFolderIsReadOnly(t *testing.T) {
	e, ops := startMetricsE2E(t)
	urls := []string{
		"http://" + e.srv.WebAddr + "/healthz", "http://" + e.srv.WebAddr + "/readyz",
		"http://" + ops + "/healthz", "http://" + ops + "/readyz",
	}
	for _, u := range urls {
		if code, body := httpGet(t, u, ""); code != 200 || body != "ok\n" {
			t.Errorf("%s: %d %q", u, code, body)
		}
	}
	undo := makeDirReadOnly(t, e.dataDir)
	defer undo()
	// Answers are reused for a second: poll.
	for _, u := range urls {
		if code, body := pollProbe(t, u, 503); body != "unhealthy: data folder not writable\n" {
			t.Errorf("%s with the data folder read-only: %d %q", u, code, body)
		}
	}
	waitLogLine(t, e.srv, func(l map[string]any) bool {
		return l["msg"] == "health check failing" && l["check"] == "data folder not writable"
	})
	undo()
	for _, u := range urls {
		if code, body := pollProbe(t, u, 200); body != "ok\n" {
			t.Errorf("%s after the folder is writable again: %d %q", u, code, body)
		}
	}
}

// pollProbe GETs u until it answers want, for at most 5 s.
func pollProbe(t *testing.T, u string, want int) (int, string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		code, body := httpGet(t, u, "")
		if code == want || time.Now().After(deadline) {
			return code, body
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestMetricsLogFormatFollowsTheTerminal: with log.format auto the logger
// writes JSON to a pipe and text to a terminal; log.level filters.
func TestMetricsLogFormatFollowsTheTerminal(t *testing.T) {
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pty: %v", err)
	}
	defer func() { _ = ptmx.Close(); _ = tty.Close() }()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = pr.Close() }()

	newLogger(config.Log{Level: "warn", Format: "auto"}, pw).Info("hidden")
	newLogger(config.Log{Level: "warn", Format: "auto"}, pw).Warn("to a pipe", "session_id", "x")
	newLogger(config.Log{Level: "debug", Format: "auto"}, tty).Debug("to a terminal", "session_id", "y")
	_ = pw.Close()
	piped, _ := io.ReadAll(pr)
	var m map[string]any
	if err := json.Unmarshal(piped, &m); err != nil || m["msg"] != "to a pipe" || m["session_id"] != "x" {
		t.Errorf("pipe got %q (%v), want one JSON line at warn", piped, err)
	}
	_ = ptmx.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(ptmx).ReadString('\n')
	if err != nil || !strings.Contains(line, `msg="to a terminal"`) || !strings.Contains(line, "session_id=y") || strings.HasPrefix(line, "{") {
		t.Errorf("terminal got %q (%v), want a text line", line, err)
	}
}

// TestMemoryBudgetFollowsSessions: with memory_budget at its default
// (auto), the process's soft memory limit, as the Go runtime reports it in
// /metrics, is the base with no session open and grows by the per-session
// share while one is open.
func TestMemoryBudgetFollowsSessions(t *testing.T) {
	e, ops := startMetricsE2E(t)
	limit := func() float64 {
		samples, _ := scrapeMetrics(t, "http://"+ops+"/metrics", "")
		return samples["go_gc_gomemlimit_bytes"]
	}
	waitLimit := func(want float64) {
		t.Helper()
		if !waitFor(5*time.Second, func() bool { return limit() == want }) {
			t.Fatalf("go_gc_gomemlimit_bytes %v, want %v", limit(), want)
		}
	}
	waitLimit(config.AutoMemoryBase)
	live := e.startLiveSSH(t, e.login(), "printf 'open\\n'; sleep 60")
	waitOutput(t, live, "open")
	waitLimit(config.AutoMemoryBase + config.AutoMemoryPerSession)
}
