package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/jumpcast/jumpcast/config"
	"github.com/jumpcast/jumpcast/internal/pgtest"
	"github.com/jumpcast/jumpcast/internal/recording"
	"github.com/jumpcast/jumpcast/internal/sshtest"
	"github.com/jumpcast/jumpcast/store"
	"github.com/jumpcast/jumpcast/store/postgres"
)

// startPostgresE2E is startE2E with the index in PostgreSQL at dsn, given
// to the server through JUMPCAST_STORE_DSN (the file only says the driver).
func startPostgresE2E(t *testing.T, dsn string) *e2e {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test")
	}
	sshtest.RequireBinary(t, "/usr/sbin/sshd", "/usr/bin/ssh")
	t.Setenv(config.StoreDSNEnv, dsn) // the child and the CLI inherit it
	e := &e2e{key: sshtest.NewKeyPair(t), dataDir: filepath.Join(t.TempDir(), "data")}
	e.sshd = sshtest.StartSSHD(t, sshtest.SSHDOptions{AuthorizedKeys: []gossh.PublicKey{e.key.Public}})
	e.cfgPath = writeConfig(t, e.dataDir, e.key.AuthorizedLine, e.key.PrivatePath, e.sshd.Addr, e.sshd.User(), "store:\n  driver: postgres\n")
	e.client = sshtest.NewClientConfig(t, e.key)
	e.srv = startServer(t, e.cfgPath)
	return e
}

// apiRecordings lists the recordings through the web API with a token.
func apiRecordings(t *testing.T, webAddr, token string) []recording.Meta {
	t.Helper()
	code, body := httpGet(t, "http://"+webAddr+"/api/recordings", token)
	if code != http.StatusOK {
		t.Fatalf("/api/recordings: %d %.300s", code, body)
	}
	var page store.Page
	if err := json.Unmarshal([]byte(body), &page); err != nil {
		t.Fatalf("/api/recordings: %v: %.300s", err, body)
	}
	return page.Items
}

// TestPostgresServe: `jumpcast serve` with store.driver postgres records
// a session into PostgreSQL, and the web API lists it from there.
func TestPostgresServe(t *testing.T) {
	dsn := pgtest.DSN(t)
	e := startPostgresE2E(t, dsn)
	if out, errOut, code := e.ssh(t, "", e.login(), "echo hello-from-pg"); code != 0 || !strings.Contains(out, "hello-from-pg") {
		t.Fatalf("ssh: exit %d %q %s", code, out, errOut)
	}
	recs := waitRecordings(t, e.cfgPath, 1, func(r recording.Meta) bool { return r.Status == recording.StatusFinished })
	token := createToken(t, e.cfgPath)
	api := apiRecordings(t, e.srv.WebAddr, token)
	if len(api) != 1 || api[0].ID != recs[0].ID || api[0].Command != "echo hello-from-pg" {
		t.Fatalf("web API lists %+v", api)
	}
	// The rows are in PostgreSQL, not in a bbolt file beside.
	pg, err := postgres.Open(context.Background(), dsn, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = pg.Close() }()
	if r, err := pg.GetRecording(context.Background(), recs[0].ID); err != nil || r.SHA256 == "" {
		t.Errorf("recording in PostgreSQL: %+v, %v", r, err)
	}
	if _, err := os.Stat(filepath.Join(e.dataDir, "jumpcast.db")); err == nil {
		t.Error("a bbolt index was made in the data folder")
	}
	if strings.Contains(e.srv.Stderr.String(), "postgres://") {
		t.Error("the server logged the DSN")
	}
}

// TestPostgresRestartWhileServing: PostgreSQL stops under a running
// server. A session started meanwhile is refused with a one-line message
// and the web API answers an error; once PostgreSQL is back, the server
// (never restarted) records and lists again.
func TestPostgresRestartWhileServing(t *testing.T) {
	pgs := pgtest.NewServer(t)
	e := startPostgresE2E(t, pgs.NewDatabase(t))
	token := createToken(t, e.cfgPath)
	if _, errOut, code := e.ssh(t, "", e.login(), "echo before"); code != 0 {
		t.Fatalf("ssh before the restart: exit %d: %s", code, errOut)
	}
	pgs.Stop()
	_, errOut, code := e.ssh(t, "", e.login(), "echo during")
	if code == 0 {
		t.Fatal("a session ran while its recording could not be indexed (recording.on_failure is closed)")
	}
	msg := strings.TrimSpace(errOut)
	if !strings.Contains(msg, "index unavailable") || strings.Count(msg, "\n") > 0 {
		t.Errorf("refusal while PostgreSQL is down: want one line saying the index is unavailable, got %q", errOut)
	}
	if strings.Contains(msg, ":"+strconv.Itoa(pgs.Port)) || strings.Contains(msg, "user=") || strings.Contains(msg, "database=") {
		t.Errorf("the admin's refusal names the database: %q", msg)
	}
	t.Logf("refused meanwhile: %q", msg)
	if code, body := httpGet(t, "http://"+e.srv.WebAddr+"/api/recordings", token); code < 500 {
		t.Errorf("web API while PostgreSQL is down: %d %.200s", code, body)
	}
	if err := pgs.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, errOut, code := e.ssh(t, "", e.login(), "echo after")
		if code == 0 && strings.Contains(out, "after") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no session within 30 s of PostgreSQL's return: exit %d %s\n%s", code, errOut, e.srv.Stderr.String())
		}
		time.Sleep(500 * time.Millisecond)
	}
	var cmds []string
	for _, r := range apiRecordings(t, e.srv.WebAddr, token) {
		cmds = append(cmds, r.Command)
	}
	if !slices.Contains(cmds, "echo before") || !slices.Contains(cmds, "echo after") {
		t.Errorf("after the restart the web lists %q", cmds)
	}
}

// TestStoreMigrateFromBbolt: a single node's bbolt index, moved with
// `jumpcast store migrate --from bbolt`, is what the web lists once the
// node runs on PostgreSQL; a second run copies nothing.
func TestStoreMigrateFromBbolt(t *testing.T) {
	e := startE2E(t)
	for _, c := range []string{"echo one", "echo two"} {
		if _, errOut, code := e.ssh(t, "", e.login(), c); code != 0 {
			t.Fatalf("ssh %s: %s", c, errOut)
		}
	}
	token := createToken(t, e.cfgPath)
	if _, errOut, code := runJumpcast(t, "", "lock", "mallory", "--reason", "left the company", "-c", e.cfgPath); code != 0 {
		t.Fatalf("lock: %s", errOut)
	}
	waitRecordings(t, e.cfgPath, 2, func(r recording.Meta) bool { return r.Status == recording.StatusFinished })
	before := apiRecordings(t, e.srv.WebAddr, token)
	e.srv.Stop(t)

	t.Setenv(config.StoreDSNEnv, pgtest.DSN(t))
	cfg, err := os.ReadFile(e.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	pgCfg := filepath.Join(t.TempDir(), "jumpcast-pg.yaml")
	if err := os.WriteFile(pgCfg, append(cfg, "store:\n  driver: postgres\n"...), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := runJumpcast(t, "", "store", "migrate", "--from", "bbolt", "-c", pgCfg)
	if code != 0 || !strings.Contains(out, "verified by counts") {
		t.Fatalf("store migrate: exit %d\n%s%s", code, out, errOut)
	}
	t.Logf("first run:\n%s", out)
	for _, want := range []string{"recordings  2  2  2", "accounts  1  1  1", "api tokens  1  1  1", "locks  1  1  1"} {
		if !strings.Contains(collapse(out), want) {
			t.Errorf("store migrate output lacks %q:\n%s", want, out)
		}
	}
	out, errOut, code = runJumpcast(t, "", "store", "migrate", "--from", "bbolt", "-c", pgCfg)
	if code != 0 || !strings.Contains(collapse(out), "recordings  2  0  2") {
		t.Errorf("second store migrate: exit %d\n%s%s", code, out, errOut)
	}

	srv := startServer(t, pgCfg)
	after := apiRecordings(t, srv.WebAddr, token) // the token moved too
	if len(after) != len(before) {
		t.Fatalf("web lists %d recordings after the move, %d before", len(after), len(before))
	}
	for i := range before {
		if after[i].ID != before[i].ID || after[i].SHA256 != before[i].SHA256 || !after[i].Start.Equal(before[i].Start) {
			t.Errorf("recording %d: %+v after, %+v before", i, after[i], before[i])
		}
	}
	if out, _, _ := runJumpcast(t, "", "lock", "ls", "-c", pgCfg); !strings.Contains(out, "mallory") {
		t.Errorf("lock ls after the move: %s", out)
	}
}

// collapse turns runs of spaces into two, for matching tabwriter output.
func collapse(s string) string {
	for strings.Contains(s, "   ") {
		s = strings.ReplaceAll(s, "   ", "  ")
	}
	return s
}
