package proxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"time"

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

// Pins keeps the target host keys trusted on first use (host_key_policy:
// tofu) in the index, so that every node sharing it trusts the same key
// for an address. internal/bastion adapts store.Index to it.
type Pins interface {
	// PinnedKey returns addr's pinned key, or nil when it has none.
	PinnedKey(ctx context.Context, addr string) (gossh.PublicKey, error)
	// Pin pins key for addr unless addr has a pin already, and returns
	// the key pinned for addr: key itself (created true) when it was new,
	// else the one another connection or node pinned first.
	Pin(ctx context.Context, addr string, key gossh.PublicKey) (pinned gossh.PublicKey, created bool, err error)
}

// pinTimeout bounds one look-up or pin in the index during a dial.
const pinTimeout = 5 * time.Second

// hostKeyPolicy builds the check for a target, in this order: the target's
// own host_keys (only those), else the known_hosts files of
// upstream.known_hosts, then, under the tofu policy, the index's pin for
// the address, where an unknown host's first key is pinned. label names
// the target in messages.
func (s *Server) hostKeyPolicy(cfg *config.Config, label, addr string, t config.Target) (*hostKeyCheck, error) {
	if len(t.HostKeys) > 0 {
		return configuredHostKeys(label, t.HostKeys)
	}
	var db *knownhosts.HostKeyDB
	if files := existingFiles(cfg.Upstream.KnownHosts); len(files) > 0 {
		var err error
		if db, err = knownhosts.NewDB(files...); err != nil {
			return nil, &adminError{Reason: audit.ReasonHostKeyChanged, Msg: label + ": cannot read known hosts", Err: err}
		}
	}
	tofu := cfg.Upstream.HostKeyPolicy == config.HostKeyTOFU && s.pins != nil
	var pinned gossh.PublicKey
	if tofu {
		ctx, cancel := context.WithTimeout(context.Background(), pinTimeout)
		defer cancel()
		var err error
		if pinned, err = s.pins.PinnedKey(ctx, addr); err != nil {
			return nil, pinsUnavailable(label, err)
		}
	}
	hc := &hostKeyCheck{algos: defaultHostKeyAlgorithms()}
	if db != nil {
		hc.algos = usableAlgorithms(db.HostKeyAlgorithms(addr))
	}
	if len(hc.algos) == 0 && pinned != nil {
		hc.algos = usableAlgorithms(algorithmsForKeyType(pinned.Type()))
	}
	if len(hc.algos) == 0 {
		hc.algos = defaultHostKeyAlgorithms()
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
		case errors.As(err, &keyErr) && pinned != nil:
			if sameKey(pinned, key) {
				return nil
			}
			return keyChanged(label, []gossh.PublicKey{pinned}, key)
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
				if sameKey(k, key) {
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

// pin pins addr's first key in the index, unless another connection or
// node pinned one meanwhile, which is then checked instead.
func (s *Server) pin(label, addr string, key gossh.PublicKey) error {
	ctx, cancel := context.WithTimeout(context.Background(), pinTimeout)
	defer cancel()
	pinned, created, err := s.pins.Pin(ctx, addr, key)
	switch {
	case err != nil:
		return pinsUnavailable(label, err)
	case !sameKey(pinned, key):
		return keyChanged(label, []gossh.PublicKey{pinned}, key)
	case !created:
		return nil
	}
	fp := gossh.FingerprintSHA256(key)
	s.log.Info("host key pinned", "target", label, "address", addr, "key", fp)
	s.auditEvent(audit.HostKeyPinned(label, addr, fp, key.Type()))
	return nil
}

// pinsUnavailable is the refusal when the index holding the pins did not
// answer: the key cannot be checked, so the target is not reached.
func pinsUnavailable(label string, err error) error {
	return &adminError{Reason: audit.ReasonPinsUnavailable, Msg: label + ": cannot check its host key: index unavailable", Err: err}
}

func sameKey(a, b gossh.PublicKey) bool { return bytes.Equal(a.Marshal(), b.Marshal()) }

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
