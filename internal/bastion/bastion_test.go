package bastion

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"go.uber.org/goleak"

	"github.com/jumpcast/jumpcast/internal/leakcheck"

	"github.com/jumpcast/jumpcast/config"
	"github.com/jumpcast/jumpcast/store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m, leakcheck.Background()...) }

func testConfig(t *testing.T) *config.Config {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = filepath.Join(t.TempDir(), "data")
	cfg.Recording.MinFreeSpace = 0
	return cfg
}

// TestNewWiresEverything: on an empty data folder New generates the host
// key once, opens the index and the recordings folder, and Close releases
// them (a second New on the same folder gets the lock and the same key).
func TestNewWiresEverything(t *testing.T) {
	cfg := testConfig(t)
	b, err := New(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if b.Store == nil || b.Dir == nil || b.Hub == nil || b.Metrics == nil || b.Audit == nil || b.Proxy == nil || len(b.HostKeys) != 1 {
		t.Fatalf("a part is missing: %+v", b)
	}
	key := b.HostKeys[0].PublicKey().Marshal()
	for _, p := range []string{DBPath(cfg), RecordingsPath(cfg), HostKeyPath(cfg), HostKeyPath(cfg) + ".pub"} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("not made: %v", err)
		}
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	again, err := New(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = again.Close() }()
	if !bytes.Equal(again.HostKeys[0].PublicKey().Marshal(), key) {
		t.Error("the host key changed between two starts")
	}
}

// TestNewNoRecording: the benchmark's wiring has no recordings folder, no
// hub and makes no recordings folder on disk; the rest is there.
func TestNewNoRecording(t *testing.T) {
	cfg := testConfig(t)
	b, err := New(cfg, Options{NoRecording: true})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = b.Close() }()
	if b.Dir != nil || b.Hub != nil {
		t.Errorf("NoRecording wired a recorder: dir %v hub %v", b.Dir, b.Hub)
	}
	if b.Store == nil || b.Proxy == nil || b.Audit == nil {
		t.Fatalf("a part is missing: %+v", b)
	}
	if _, err := os.Stat(RecordingsPath(cfg)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("recordings folder: %v", err)
	}
}

// TestKeyFileErrorsNameKeyAndFile: an unusable host key or identity file
// stops New with one line: the config key, then the one loader's
// "private key PATH: WHAT".
func TestKeyFileErrorsNameKeyAndFile(t *testing.T) {
	junk := filepath.Join(t.TempDir(), "junk")
	if err := os.WriteFile(junk, []byte("not a key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(t.TempDir(), "missing")
	for _, tc := range []struct {
		name string
		edit func(*config.Config)
		want string
	}{
		{"identity file missing", func(c *config.Config) { c.Upstream.IdentityFiles = []string{missing} },
			"upstream.identity_files: private key " + missing + ": no such file or directory"},
		{"identity file not a key", func(c *config.Config) { c.Upstream.IdentityFiles = []string{junk} },
			"upstream.identity_files: private key " + junk + ": ssh: no key found"},
		{"host key missing", func(c *config.Config) { c.SSH.HostKeys = []string{missing} },
			"ssh.host_keys: private key " + missing + ": no such file or directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(t)
			tc.edit(cfg)
			b, err := New(cfg, Options{})
			if err == nil {
				_ = b.Close()
				t.Fatal("New accepted it")
			}
			if err.Error() != tc.want {
				t.Errorf("got  %s\nwant %s", err, tc.want)
			}
		})
	}
}

// TestNewOnAHeldDataFolder: a second bastion on a data folder another one
// holds fails with the store's lock error and leaves the first unharmed.
func TestNewOnAHeldDataFolder(t *testing.T) {
	cfg := testConfig(t)
	first, err := New(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = first.Close() }()
	if b, err := New(cfg, Options{}); !errors.Is(err, store.ErrLocked) {
		if b != nil {
			_ = b.Close()
		}
		t.Fatalf("second New: %v, want ErrLocked", err)
	}
	if _, err := first.Store.Version(t.Context()); err != nil {
		t.Errorf("first bastion's index after the failed second New: %v", err)
	}
}
