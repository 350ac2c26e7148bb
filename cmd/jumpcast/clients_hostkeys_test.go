package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/jumpcast/jumpcast/internal/sshtest"
)

// TestClientsHostKeyTypes: docs/admins.md's recipe for clients without
// ed25519 host keys. With the generated ed25519 key listed first and an
// RSA and an ECDSA key made by ssh-keygen after it in ssh.host_keys, a
// client that accepts only one of the three types gets exactly that key,
// and one with no preference still gets the ed25519 key it knew before.
func TestClientsHostKeyTypes(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test")
	}
	sshtest.RequireBinary(t, "ssh", "ssh-keygen")
	admin := sshtest.NewKeyPair(t)
	dataDir := filepath.Join(t.TempDir(), "data")
	keyDir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	keys := map[string]string{ // host key algorithm → private key file
		"ssh-ed25519":         filepath.Join(dataDir, "ssh_host_ed25519_key"),
		"rsa-sha2-512":        filepath.Join(keyDir, "ssh_host_rsa_key"),
		"ecdsa-sha2-nistp256": filepath.Join(keyDir, "ssh_host_ecdsa_key"),
	}
	// The bastion generates its ed25519 key at the first start; the
	// operator then adds the others, as the recipe says.
	cfgFor := func(hostKeys ...string) string {
		q := make([]string, len(hostKeys))
		for i, k := range hostKeys {
			q[i] = fmt.Sprintf("%q", k)
		}
		cfg := fmt.Sprintf(`data_dir: %q
ssh:
  listen: "127.0.0.1:0"
  host_keys: [%s]
web:
  listen: "127.0.0.1:0"
recording:
  min_free_space: 1MiB
users:
  alice:
    keys: [%q]
`, dataDir, strings.Join(q, ", "), admin.AuthorizedLine)
		p := filepath.Join(t.TempDir(), "jumpcast.yaml")
		if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	first := startServer(t, cfgFor())
	first.Stop(t)
	for _, gen := range [][]string{{"-t", "rsa", "-b", "3072", "-f", keys["rsa-sha2-512"]}, {"-t", "ecdsa", "-b", "256", "-f", keys["ecdsa-sha2-nistp256"]}} {
		if _, errOut, code, err := sshtest.Run(ctx, nil, "ssh-keygen", append([]string{"-q", "-N", ""}, gen...)...); err != nil || code != 0 {
			t.Fatalf("ssh-keygen %v: exit %d %v: %s", gen, code, err, errOut)
		}
	}
	srv := startServer(t, cfgFor(keys["ssh-ed25519"], keys["rsa-sha2-512"], keys["ecdsa-sha2-nistp256"]))

	for alg, file := range map[string]string{"": keys["ssh-ed25519"], "rsa-sha2-512": keys["rsa-sha2-512"], "ecdsa-sha2-nistp256": keys["ecdsa-sha2-nistp256"]} {
		name := alg
		if name == "" {
			name = "no preference"
		}
		t.Run(name, func(t *testing.T) {
			client := sshtest.NewClientConfig(t, admin)
			args := []string{"-F", client.ConfigPath, "-p", srv.SSHPort}
			if alg != "" {
				args = append(args, "-o", "HostKeyAlgorithms="+alg)
			}
			out, errOut, code, err := sshtest.Run(ctx, nil, "ssh", append(args, "me@127.0.0.1")...)
			if err != nil || code != 0 || !strings.Contains(string(out), "you are alice") {
				t.Fatalf("ssh: exit %d %v: %s %s", code, err, out, errOut)
			}
			pub, err := os.ReadFile(file + ".pub")
			if err != nil {
				t.Fatal(err)
			}
			want, _, _, _, err := gossh.ParseAuthorizedKey(pub)
			if err != nil {
				t.Fatal(err)
			}
			known, err := os.ReadFile(client.KnownHostsPath)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(known, bytes.TrimSpace(gossh.MarshalAuthorizedKey(want))) {
				t.Errorf("the client accepted %q, want the key of %s", known, filepath.Base(file))
			}
		})
	}
}
