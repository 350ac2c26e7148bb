package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jumpcast/jumpcast/internal/sshtest"
)

// A server that cannot start says why in one line and exits 1; it used to
// panic in the cleanup of a half-built program.
func TestServeStartupErrorsAreOneLine(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "busy.yaml")
	doc := fmt.Sprintf("data_dir: %q\nssh:\n  listen: %q\nweb:\n  listen: \"127.0.0.1:0\"\n", filepath.Join(dir, "data"), busy.Addr().String())
	if err := os.WriteFile(cfg, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	_, stderr, code := runJumpcast(t, "", "serve", "-c", cfg)
	checkStartupError(t, "busy SSH port", stderr, code, "address already in use")

	// A second server on a data folder another one holds.
	key := sshtest.NewKeyPair(t)
	cfg2 := writeConfig(t, filepath.Join(dir, "held"), key.AuthorizedLine, key.PrivatePath, "127.0.0.1:1", "root", "")
	startServer(t, cfg2)
	_, stderr, code = runJumpcast(t, "", "serve", "-c", cfg2)
	checkStartupError(t, "data folder in use", stderr, code, "holds it")
}

func checkStartupError(t *testing.T, what, stderr string, code int, want string) {
	t.Helper()
	if code != 1 || strings.Contains(stderr, "panic") || strings.Contains(stderr, "goroutine ") {
		t.Errorf("%s: exit %d, stderr:\n%s", what, code, stderr)
	}
	if !strings.Contains(stderr, want) {
		t.Errorf("%s: stderr does not say %q:\n%s", what, want, stderr)
	}
}

// TestServeRefusesADataFolderOpenToOthers: a data folder that exists with
// the mode mkdir gives it (0755) is refused with one line that names the
// mode and the fix, and is left as it was; once private, it is used.
func TestServeRefusesADataFolderOpenToOthers(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	key := sshtest.NewKeyPair(t)
	dataDir := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dataDir, 0o700); err != nil {
		t.Fatal(err)
	}
	cfg := writeConfig(t, dataDir, key.AuthorizedLine, key.PrivatePath, "127.0.0.1:1", "root", "")
	for _, mode := range []os.FileMode{0o755, 0o770} {
		if err := os.Chmod(dataDir, mode); err != nil {
			t.Fatal(err)
		}
		_, stderr, code := runJumpcast(t, "", "serve", "-c", cfg)
		checkStartupError(t, fmt.Sprintf("data folder %04o", mode), stderr, code, fmt.Sprintf("has mode %04o", mode))
		if !strings.Contains(stderr, "chmod 700 "+dataDir) || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
			t.Errorf("data folder %04o: want one line with the fix, got:\n%s", mode, stderr)
		}
		if entries, _ := os.ReadDir(dataDir); len(entries) != 0 {
			t.Errorf("data folder %04o: the refused folder got %d entries", mode, len(entries))
		}
		if fi, err := os.Stat(dataDir); err != nil || fi.Mode().Perm() != mode {
			t.Errorf("data folder %04o: changed to %v (%v)", mode, fi.Mode(), err)
		}
	}
	if err := os.Chmod(dataDir, 0o700); err != nil {
		t.Fatal(err)
	}
	startServer(t, cfg)
}
