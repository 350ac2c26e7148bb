package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jumpcast/jumpcast/internal/pgtest"
	"github.com/jumpcast/jumpcast/internal/recording"
	"github.com/jumpcast/jumpcast/internal/servetest"
	"github.com/jumpcast/jumpcast/store"
)

// The end-to-end tests run the real binary: this test binary re-executes
// itself as `jumpcast` when JUMPCAST_E2E_MAIN=1, so a server can be started,
// SIGKILLed and restarted like the installed program.
func TestMain(m *testing.M) {
	if os.Getenv("JUMPCAST_E2E_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(pgtest.Run(m)) // stops the PostgreSQL the postgres tests started
}

// jumpcastCmd builds a command that runs this binary as jumpcast.
func jumpcastCmd(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, os.Args[0], args...)
	cmd.Env = append(os.Environ(), "JUMPCAST_E2E_MAIN=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	return cmd
}

// runJumpcast runs one CLI command to completion (bounded to 60 s).
func runJumpcast(t testing.TB, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := jumpcastCmd(ctx, args...)
	var o, e bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = strings.NewReader(stdin), &o, &e
	err := cmd.Run()
	code = cmd.ProcessState.ExitCode()
	if err != nil && code < 0 {
		t.Fatalf("jumpcast %v: %v", args, err)
	}
	return o.String(), e.String(), code
}

// server is a `jumpcast serve` child process.
type server struct {
	*servetest.Server
	cfgPath string
}

// startServer starts `jumpcast serve -c cfgPath` and waits until it has
// printed its listen addresses.
func startServer(t testing.TB, cfgPath string) *server {
	t.Helper()
	cmd := jumpcastCmd(context.Background(), "serve", "-c", cfgPath, "--log-format", "json")
	return &server{Server: servetest.Start(t, cmd), cfgPath: cfgPath}
}

// writeConfig writes a config file for one user and one target.
func writeConfig(t testing.TB, dataDir, userKey, identityFile, targetAddr, remoteUser string, extra string) string {
	t.Helper()
	cfg := fmt.Sprintf(`data_dir: %q
ssh:
  listen: "127.0.0.1:0"
  shutdown_grace: 2s
web:
  listen: "127.0.0.1:0"
recording:
  min_free_space: 1MiB
upstream:
  identity_files: [%q]
  dial_timeout: 3s
users:
  alice:
    keys: [%q]
    allow:
      - targets: ["db*"]
        as: [%q]
targets:
  db1:
    address: %q
%s`, dataDir, identityFile, strings.TrimSpace(userKey), remoteUser, targetAddr, extra)
	p := filepath.Join(t.TempDir(), "jumpcast.yaml")
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// listRecordings asks the CLI (through the admin socket when the server
// runs, or the data folder when not).
func listRecordings(t testing.TB, cfgPath string, args ...string) []recording.Meta {
	t.Helper()
	out, errOut, code := runJumpcast(t, "", append([]string{"recordings", "ls", "--json", "-c", cfgPath}, args...)...)
	if code != 0 {
		t.Fatalf("recordings ls: exit %d: %s", code, errOut)
	}
	var page store.Page
	if err := json.Unmarshal([]byte(out), &page); err != nil {
		t.Fatalf("recordings ls --json: %v\n%s", err, out)
	}
	return page.Items
}

// waitRecordings polls until n recordings satisfy ok, or fails after 15 s.
func waitRecordings(t testing.TB, cfgPath string, n int, ok func(recording.Meta) bool) []recording.Meta {
	t.Helper()
	return waitRecordingsFor(t, cfgPath, n, 15*time.Second, ok)
}

// waitRecordingsFor is waitRecordings waiting up to d.
func waitRecordingsFor(t testing.TB, cfgPath string, n int, d time.Duration, ok func(recording.Meta) bool) []recording.Meta {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		recs := listRecordings(t, cfgPath, "--limit", "500")
		good := 0
		for _, r := range recs {
			if ok(r) {
				good++
			}
		}
		if good >= n {
			return recs
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %d matching recordings; have %+v", d, n, recs)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
