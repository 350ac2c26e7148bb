package metrics

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jumpcast/jumpcast/recorder"
	"github.com/jumpcast/jumpcast/store"
)

// makeReadOnly makes dir refuse new files until the returned function
// undoes it: chmod 0500, and — because chmod does not stop root — when
// running as root also a directory where the probe file goes, which no
// open for writing gets past.
func makeReadOnly(t *testing.T, dir string) (undo func()) {
	t.Helper()
	if err := os.Chmod(dir, 0o500); err != nil {
		t.Fatal(err)
	}
	block := ""
	if os.Geteuid() == 0 {
		t.Logf("running as root: chmod 0500 does not stop root, so %s is also made a directory", ProbeFile)
		block = filepath.Join(dir, ProbeFile)
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

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = res.Body.Close() }()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// TestProbesWhenDataFolderTurnsReadOnly: both probes answer 200 "ok",
// turn 503 with a short reason when the data folder stops taking files,
// and recover when it takes them again.
func TestProbesWhenDataFolderTurnsReadOnly(t *testing.T) {
	data := t.TempDir()
	recs := filepath.Join(data, "recordings")
	if err := os.Mkdir(recs, 0o700); err != nil {
		t.Fatal(err)
	}
	h := NewHealth(HealthOptions{Writable: []Folder{{"data folder", data}, {"recordings folder", recs}}})
	srv := httptest.NewServer(OpsHandler(New(Options{}), h))
	defer srv.Close()
	for _, p := range []string{"/healthz", "/readyz"} {
		if code, body := get(t, srv.URL+p); code != 200 || body != "ok\n" {
			t.Fatalf("%s before: %d %q", p, code, body)
		}
	}
	undo := makeReadOnly(t, data)
	defer undo()
	for _, p := range []string{"/healthz", "/readyz"} {
		if code, body := get(t, srv.URL+p); code != 503 || body != "unhealthy: data folder not writable\n" {
			t.Errorf("%s read-only: %d %q", p, code, body)
		}
	}
	undo()
	for _, p := range []string{"/healthz", "/readyz"} {
		if code, body := get(t, srv.URL+p); code != 200 {
			t.Errorf("%s after: %d %q", p, code, body)
		}
	}
	if entries, _ := os.ReadDir(data); len(entries) != 1 {
		t.Errorf("the probe left files behind: %v", entries)
	}
}

// TestReadinessChecksStoreAndFreeSpace: a closed index and a free-space
// floor above what the disk has make the bastion not ready, but alive.
func TestReadinessChecksStoreAndFreeSpace(t *testing.T) {
	data := t.TempDir()
	st, err := store.Open(filepath.Join(data, "jumpcast.db"), store.Options{Timeout: time.Second, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	dir, err := recorder.OpenDir(filepath.Join(data, "recordings"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = dir.Close() }()
	free, err := dir.FreeSpace()
	if err != nil {
		t.Fatal(err)
	}
	storeCheck := func(ctx context.Context) error { _, err := st.Version(ctx); return err }
	for _, tc := range []struct {
		name  string
		floor uint64
		close bool
		want  string
	}{
		{"ready", 1 << 20, false, ""},
		{"below the floor", free + 1<<40, false, "recordings disk below free-space floor"},
		{"index closed", 1 << 20, true, "index not answering"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.close {
				if err := st.Close(); err != nil {
					t.Fatal(err)
				}
			}
			h := NewHealth(HealthOptions{Writable: []Folder{{"data folder", data}}, Store: storeCheck,
				FreeSpace: dir.FreeSpace, MinFreeSpace: tc.floor})
			if err := h.Live(t.Context()); err != nil {
				t.Errorf("Live: %v", err)
			}
			err := h.Ready(t.Context())
			if got := errText(err); got != tc.want {
				t.Errorf("Ready = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestProbeAnswersAreReusedAndChangesLogged: with Reuse set, a probe
// answers from its last check until it is stale; a failure is logged once
// when it starts and once when it ends, not on every probe.
func TestProbeAnswersAreReusedAndChangesLogged(t *testing.T) {
	data := t.TempDir()
	var logs strings.Builder
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	cachedH := NewHealth(HealthOptions{Writable: []Folder{{"data folder", data}}, Reuse: time.Hour})
	h := NewHealth(HealthOptions{Writable: []Folder{{"data folder", data}}, Logger: logger})
	if cachedH.Live(t.Context()) != nil || h.Live(t.Context()) != nil {
		t.Fatal("not live with a writable folder")
	}
	undo := makeReadOnly(t, data)
	defer undo()
	if err := cachedH.Live(t.Context()); err != nil {
		t.Errorf("a fresh answer was not reused: %v", err)
	}
	for range 3 {
		if err := h.Live(t.Context()); err == nil {
			t.Fatal("live with a read-only folder")
		}
	}
	undo()
	if err := h.Live(t.Context()); err != nil {
		t.Errorf("not live again: %v", err)
	}
	if n := strings.Count(logs.String(), "health check failing"); n != 1 {
		t.Errorf("%d failure lines for one failure:\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), "health check passes again") || !strings.Contains(logs.String(), "probe=healthz") {
		t.Errorf("log:\n%s", logs.String())
	}
}

func TestOpsHandlerServesOnlyItsRoutes(t *testing.T) {
	srv := httptest.NewServer(OpsHandler(New(Options{}), NewHealth(HealthOptions{})))
	defer srv.Close()
	if code, body := get(t, srv.URL+"/metrics"); code != 200 || !strings.Contains(body, "# HELP jumpcast_sessions_total") {
		t.Errorf("/metrics: %d %.200q", code, body)
	}
	if code, _ := get(t, srv.URL+"/api/recordings"); code != 404 {
		t.Errorf("/api/recordings on the ops listener: %d, want 404", code)
	}
	res, err := http.Post(srv.URL+"/metrics", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	if res.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /metrics: %d, want 405", res.StatusCode)
	}
}
