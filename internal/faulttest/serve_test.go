//go:build faults

package faulttest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/jumpcast/jumpcast/internal/recording"
	"github.com/jumpcast/jumpcast/internal/servetest"
	"github.com/jumpcast/jumpcast/internal/sshtest"
	"github.com/jumpcast/jumpcast/store"
)

// buildJumpcast builds the jumpcast binary from this module into a
// temporary folder (bounded to 5 minutes) and returns its path.
func buildJumpcast(t *testing.T) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot find the module root")
	}
	root := filepath.Join(filepath.Dir(file), "..", "..")
	bin := filepath.Join(t.TempDir(), "jumpcast")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/jumpcast")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/jumpcast: %v\n%s", err, out)
	}
	return bin
}

// child is a `jumpcast serve` process.
type child struct {
	*servetest.Server
	SSHPort int
}

// startChild starts `bin serve -c cfgPath` and waits (30 s at most) until it
// printed its listen addresses. t.Cleanup kills it.
func startChild(t *testing.T, bin, cfgPath string) *child {
	t.Helper()
	cmd := exec.Command(bin, "serve", "-c", cfgPath, "--log-format", "json")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	s := servetest.Start(t, cmd)
	port, _ := strconv.Atoi(s.SSHPort)
	return &child{Server: s, SSHPort: port}
}

// Pid is the child's process id, for ps and kill.
func (c *child) Pid() string { return strconv.Itoa(c.Server.Pid()) }

// writeChildConfig writes a config: alice (adminKey) may reach db1
// (targetAddr) as remoteUser; the bastion logs in with identityFile;
// recorded output reaches the file within flush.
func writeChildConfig(t *testing.T, dataDir, adminKey, identityFile, targetAddr, remoteUser string, flush time.Duration) string {
	t.Helper()
	cfg := fmt.Sprintf(`data_dir: %q
ssh:
  listen: "127.0.0.1:0"
  shutdown_grace: 2s
  # 50 sessions connect from one address at once; the default cap of 64
  # leaves one address 48 handshakes in flight.
  max_unauthenticated: 128
web:
  listen: "127.0.0.1:0"
recording:
  min_free_space: 1MiB
  flush_interval: %s
upstream:
  identity_files: [%q]
  dial_timeout: 5s
users:
  alice:
    keys: [%q]
    allow:
      - targets: ["db*"]
        as: [%q]
targets:
  db1:
    address: %q
`, dataDir, flush, identityFile, strings.TrimSpace(adminKey), remoteUser, targetAddr)
	p := filepath.Join(t.TempDir(), "jumpcast.yaml")
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// childHostKey is the bastion's host key, generated in the data folder at
// the first start.
func childHostKey(t *testing.T, dataDir string) gossh.PublicKey {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dataDir, "ssh_host_ed25519_key"))
	if err != nil {
		t.Fatalf("bastion host key: %v", err)
	}
	s, err := gossh.ParsePrivateKey(b)
	if err != nil {
		t.Fatalf("bastion host key: %v", err)
	}
	return s.PublicKey()
}

// listChildRecordings runs `jumpcast recordings ls --json` (through the
// admin socket of the running server).
func listChildRecordings(t *testing.T, bin, cfgPath string) []recording.Meta {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "recordings", "ls", "--json", "--limit", "500", "-c", cfgPath)
	var errOut sshtest.SyncBuffer
	cmd.Stderr = &errOut
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("jumpcast recordings ls: %v: %s", err, errOut.String())
	}
	var page store.Page
	if err := json.Unmarshal(out, &page); err != nil {
		t.Fatalf("recordings ls --json: %v\n%.500s", err, out)
	}
	return page.Items
}
