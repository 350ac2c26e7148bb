package proxy

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/jumpcast/jumpcast/config"
	"github.com/jumpcast/jumpcast/internal/audit"
	"github.com/skeema/knownhosts"
	gossh "golang.org/x/crypto/ssh"
	xknownhosts "golang.org/x/crypto/ssh/knownhosts"
)

// hostKeyCheck verifies one target's host key and says which host key
// algorithms to ask for (the recorded types, so that a host with keys of
// several types is not reported as changed).
type hostKeyCheck struct {
	callback gossh.HostKeyCallback
	algos    []string
}

// hostKeyPolicy builds the check for a target, in this order: the target's
// own host_keys (only those), else the known_hosts files of
// upstream.known_hosts, plus the pin file under the tofu policy, where an
// unknown host's first key is pinned. label names the target in messages.
func (s *Server) hostKeyPolicy(cfg *config.Config, label, addr string, t config.Target) (*hostKeyCheck, error) {
	if len(t.HostKeys) > 0 {
		return configuredHostKeys(label, t.HostKeys)
	}
	tofu := cfg.Upstream.HostKeyPolicy == config.HostKeyTOFU && s.pinPath != ""
	files := existingFiles(cfg.Upstream.KnownHosts)
	if tofu {
		files = append(files, existingFiles([]string{s.pinPath})...)
	}
	var db *knownhosts.HostKeyDB
	if len(files) > 0 {
		var err error
		if db, err = knownhosts.NewDB(files...); err != nil {
			return nil, &adminError{Reason: audit.ReasonHostKeyChanged, Msg: label + ": cannot read known hosts", Err: err}
		}
	}
	hc := &hostKeyCheck{algos: defaultHostKeyAlgorithms()}
	if db != nil {
		if known := usableAlgorithms(db.HostKeyAlgorithms(addr)); len(known) > 0 {
			hc.algos = known
		}
	}
	hc.callback = func(hostname string, remote net.Addr, key gossh.PublicKey) error {
		var err error = &xknownhosts.KeyError{} // unknown, when there is no file at all
		if db != nil {
			err = db.HostKeyCallback()(hostname, remote, key)
		}
		var keyErr *xknownhosts.KeyError
		var revoked *xknownhosts.RevokedError
		switch {
		case err == nil:
			return nil
		case errors.As(err, &revoked):
			return &adminError{Reason: audit.ReasonHostKeyChanged, Msg: fmt.Sprintf("%s: host key %s is revoked", label, gossh.FingerprintSHA256(key))}
		case errors.As(err, &keyErr) && len(keyErr.Want) > 0:
			want := make([]gossh.PublicKey, len(keyErr.Want))
			for i, k := range keyErr.Want {
				want[i] = k.Key
			}
			return keyChanged(label, want, key)
		case errors.As(err, &keyErr) && tofu:
			return s.pin(label, addr, key)
		case errors.As(err, &keyErr):
			return &adminError{Reason: audit.ReasonHostKeyUnknown, Msg: fmt.Sprintf("%s: host key %s is not known (host_key_policy is strict)", label, gossh.FingerprintSHA256(key))}
		default:
			return &adminError{Reason: audit.ReasonHostKeyChanged, Msg: label + ": host key check failed", Err: err}
		}
	}
	return hc, nil
}

// configuredHostKeys accepts exactly the keys a target lists.
func configuredHostKeys(label string, lines []string) (*hostKeyCheck, error) {
	var keys []gossh.PublicKey
	var types []string
	for _, l := range lines {
		k, _, _, _, err := gossh.ParseAuthorizedKey([]byte(l))
		if err != nil {
			return nil, &adminError{Reason: audit.ReasonHostKeyChanged, Msg: label + ": bad host key in config", Err: err}
		}
		keys = append(keys, k)
		types = append(types, algorithmsForKeyType(k.Type())...)
	}
	return &hostKeyCheck{
		algos: usableAlgorithms(types),
		callback: func(_ string, _ net.Addr, key gossh.PublicKey) error {
			for _, k := range keys {
				if bytes.Equal(k.Marshal(), key.Marshal()) {
					return nil
				}
			}
			return keyChanged(label, keys, key)
		},
	}, nil
}

// keyChanged is the refusal when a target presents another key than the
// recorded one: "db1: host key changed: expected SHA256:… got SHA256:…".
// Expected keys of the presented type are named first.
func keyChanged(label string, want []gossh.PublicKey, got gossh.PublicKey) error {
	var same, other []string
	for _, k := range want {
		fp := gossh.FingerprintSHA256(k)
		if k.Type() == got.Type() {
			same = append(same, fp)
		} else {
			other = append(other, fp)
		}
	}
	if len(same) == 0 {
		same = other
	}
	return &adminError{Reason: audit.ReasonHostKeyChanged, Msg: fmt.Sprintf("%s: host key changed: expected %s got %s",
		label, strings.Join(same, ", "), gossh.FingerprintSHA256(got))}
}

// pin appends addr's first key to the pin file (0600), unless another
// connection pinned a key meanwhile, which is then checked instead.
func (s *Server) pin(label, addr string, key gossh.PublicKey) error {
	s.pinMu.Lock()
	defer s.pinMu.Unlock()
	if files := existingFiles([]string{s.pinPath}); len(files) > 0 {
		if db, err := knownhosts.NewDB(files...); err == nil {
			if known := db.HostKeys(addr); len(known) > 0 {
				want := make([]gossh.PublicKey, len(known))
				for i, k := range known {
					if bytes.Equal(k.Marshal(), key.Marshal()) {
						return nil
					}
					want[i] = k.PublicKey
				}
				return keyChanged(label, want, key)
			}
		}
	}
	if err := os.MkdirAll(filepath.Dir(s.pinPath), 0o700); err != nil {
		return &adminError{Reason: audit.ReasonHostKeyChanged, Msg: label + ": cannot pin host key", Err: err}
	}
	f, err := os.OpenFile(s.pinPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return &adminError{Reason: audit.ReasonHostKeyChanged, Msg: label + ": cannot pin host key", Err: err}
	}
	_, werr := f.WriteString(knownhosts.Line([]string{addr}, key) + "\n")
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return &adminError{Reason: audit.ReasonHostKeyChanged, Msg: label + ": cannot pin host key", Err: werr}
	}
	fp := gossh.FingerprintSHA256(key)
	s.log.Info("host key pinned", "target", label, "address", addr, "key", fp)
	s.auditEvent(audit.HostKeyPinned(label, addr, fp, key.Type()))
	return nil
}

// existingFiles keeps the paths that exist (a missing optional
// known_hosts file is not an error).
func existingFiles(paths []string) []string {
	var out []string
	for _, p := range paths {
		if p == "" {
			continue
		}
		if _, err := os.Stat(p); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// algorithmsForKeyType maps a key type to the host key algorithms that
// use it (RSA keys sign with SHA-2 only).
func algorithmsForKeyType(t string) []string {
	if t == gossh.KeyAlgoRSA {
		return []string{gossh.KeyAlgoRSASHA512, gossh.KeyAlgoRSASHA256}
	}
	return []string{t}
}

// usableAlgorithms keeps the host key algorithms x/crypto supports and
// that do not sign with SHA-1.
func usableAlgorithms(in []string) []string {
	sup := gossh.SupportedAlgorithms().HostKeys
	var out []string
	for _, a := range in {
		if slices.Contains(sup, a) && !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out
}

// defaultHostKeyAlgorithms is the preference for unknown hosts: ed25519
// first, then ECDSA, then RSA with SHA-2.
func defaultHostKeyAlgorithms() []string {
	return usableAlgorithms([]string{gossh.KeyAlgoED25519, gossh.KeyAlgoECDSA256, gossh.KeyAlgoECDSA384,
		gossh.KeyAlgoECDSA521, gossh.KeyAlgoRSASHA512, gossh.KeyAlgoRSASHA256})
}
