package demo

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	gossh "golang.org/x/crypto/ssh"
)

// newKey generates an ed25519 key. With path set, the private key is written
// there (0600, OpenSSH format) and the public key to path+".pub".
func newKey(path, comment string) (gossh.Signer, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	signer, err := gossh.NewSignerFromKey(priv)
	if err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	if path == "" {
		return signer, nil
	}
	block, err := gossh.MarshalPrivateKey(priv, comment)
	if err != nil {
		return nil, fmt.Errorf("encode key: %w", err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		return nil, fmt.Errorf("write key: %w", err)
	}
	if err := os.WriteFile(path+".pub", []byte(authorizedLine(signer.PublicKey(), comment)+"\n"), 0o644); err != nil {
		return nil, fmt.Errorf("write key: %w", err)
	}
	return signer, nil
}

// authorizedLine is key in authorized_keys format with a comment.
func authorizedLine(key gossh.PublicKey, comment string) string {
	return strings.TrimSpace(string(gossh.MarshalAuthorizedKey(key))) + " " + comment
}

// homeKeys returns the public keys in ~/.ssh/id_*.pub, as authorized_keys
// lines, skipping files that do not parse.
func homeKeys() []string {
	home, err := os.UserHomeDir()
	if err != nil {
		return nil
	}
	paths, _ := filepath.Glob(filepath.Join(home, ".ssh", "id_*.pub")) // the pattern is valid
	var out []string
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		if _, _, _, _, err := gossh.ParseAuthorizedKey(data); err != nil {
			continue
		}
		out = append(out, strings.TrimSpace(string(data)))
	}
	return out
}

// nameRE is what config accepts as a user name (see config.Validate).
var nameRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$`)

// osUserName is the current OS user's name when jumpcast accepts it as a
// user name, else "demo".
func osUserName() string {
	name := os.Getenv("USER")
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	if !nameRE.MatchString(name) {
		return "demo"
	}
	return name
}

// pickPort returns preferred when 127.0.0.1:preferred is free, else (or when
// preferred is 0) a free port chosen by the kernel. The port is released
// before returning: another process could take it before jumpcast listens,
// in which case jumpcast fails to start and says so.
func pickPort(preferred int) (int, error) {
	if preferred > 0 {
		if l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(preferred))); err == nil {
			_ = l.Close()
			return preferred, nil
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	return port, nil
}

// configParams is what writeConfig puts into jumpcast.yaml.
type configParams struct {
	DataDir       string
	HostKey       string // bastion host key file
	Identity      string // bastion-held key for the target
	SSHPort       int
	WebPort       int
	User          string   // bastion user and remote user
	UserKeys      []string // authorized_keys lines
	TargetAddr    string
	TargetHostKey string // authorized_keys line
}

// configYAML renders the demo config. Strings are written as YAML
// double-quoted scalars (strconv.Quote's escapes are a subset of YAML's).
func configYAML(p configParams) string {
	q := strconv.Quote
	var b strings.Builder
	fmt.Fprintf(&b, `# jumpcast demo configuration, written by "make demo" (internal/demo).
# Everything here is thrown away when the demo stops. See docs/operators.md
# for every key; docs/jumpcast.example.yaml for a production-shaped file.
data_dir: %s

ssh:
  listen: "127.0.0.1:%d"
  host_keys: [%s]          # pinned in the demo's known_hosts file
  shutdown_grace: 2s

web:
  listen: "127.0.0.1:%d"

log:
  format: text

upstream:
  host_key_policy: strict   # only the key listed under targets.demo.host_keys
  identity_files: [%s]      # the bastion logs in to the demo target with this key

users:
  %s:
    keys:
`, q(p.DataDir), p.SSHPort, q(p.HostKey), p.WebPort, q(p.Identity), p.User)
	for _, k := range p.UserKeys {
		fmt.Fprintf(&b, "      - %s\n", q(k))
	}
	fmt.Fprintf(&b, `    allow:
      - targets: ["demo"]
        as: [%s]

targets:
  demo:
    address: %s
    host_keys:
      - %s
`, q(p.User), q(p.TargetAddr), q(p.TargetHostKey))
	return b.String()
}
