package proxy

import (
	"bytes"
	"fmt"
	"net"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/jumpcast/jumpcast/config"
	"github.com/jumpcast/jumpcast/internal/audit"
	gossh "golang.org/x/crypto/ssh"
)

// keyIndex maps authorized keys and user CAs to bastion users. It is built
// from one config snapshot and never changes.
type keyIndex struct {
	users   map[string][]string // string(key.Marshal()) → bastion users holding that key, sorted
	cas     [][]byte            // Marshal() of each trusted user CA key
	known   map[string]bool     // configured bastion user names
	revoked map[string]bool     // string(key.Marshal()) of each ssh.revoked_keys entry
}

func newKeyIndex(cfg *config.Config) *keyIndex {
	ki := &keyIndex{users: map[string][]string{}, known: map[string]bool{}, revoked: map[string]bool{}}
	for _, line := range cfg.SSH.RevokedKeys {
		if k, _, _, _, err := gossh.ParseAuthorizedKey([]byte(line)); err == nil {
			ki.revoked[string(k.Marshal())] = true
		}
	}
	for name, u := range cfg.Users {
		ki.known[name] = true
		for _, line := range u.Keys {
			k, _, _, _, err := gossh.ParseAuthorizedKey([]byte(line))
			if err != nil {
				continue // config validation already rejected it
			}
			ki.users[string(k.Marshal())] = append(ki.users[string(k.Marshal())], name)
		}
	}
	for _, list := range ki.users {
		sort.Strings(list)
	}
	for _, line := range cfg.SSH.UserCAKeys {
		if k, _, _, _, err := gossh.ParseAuthorizedKey([]byte(line)); err == nil {
			ki.cas = append(ki.cas, k.Marshal())
		}
	}
	return ki
}

// identity is who authenticated: the bastion user, the fingerprint of the
// key that signed, and for a certificate its CA and key id.
type identity struct {
	User           string
	KeyFingerprint string
	CAFingerprint  string // "" unless a certificate was used
	CertKeyID      string
}

// identify decides which bastion user key belongs to. loginName breaks a
// tie when one key (or one certificate) names several users: a no-target
// login ("ssh alice@bastion") picks alice. The error is for the log only.
func (ki *keyIndex) identify(loginName string, key gossh.PublicKey, remote net.Addr, now time.Time) (identity, error) {
	if cert, ok := key.(*gossh.Certificate); ok {
		return ki.identifyCert(loginName, cert, remote, now)
	}
	if ki.revoked[string(key.Marshal())] {
		return identity{}, keyRefused(audit.ReasonKeyRevoked, "key %s is revoked", gossh.FingerprintSHA256(key))
	}
	users := ki.users[string(key.Marshal())]
	user, err := pickUser(users, loginName)
	if err != nil {
		return identity{}, err
	}
	return identity{User: user, KeyFingerprint: gossh.FingerprintSHA256(key)}, nil
}

func (ki *keyIndex) identifyCert(loginName string, cert *gossh.Certificate, remote net.Addr, now time.Time) (identity, error) {
	if cert.CertType != gossh.UserCert {
		return identity{}, keyRefused(audit.ReasonCertificateInvalid, "certificate is not a user certificate")
	}
	if ki.revoked[string(cert.Key.Marshal())] {
		return identity{}, keyRefused(audit.ReasonKeyRevoked, "certificate for revoked key %s", gossh.FingerprintSHA256(cert.Key))
	}
	if ki.revoked[string(cert.SignatureKey.Marshal())] {
		return identity{}, keyRefused(audit.ReasonKeyRevoked, "certificate signed by revoked authority %s", gossh.FingerprintSHA256(cert.SignatureKey))
	}
	if !slices.ContainsFunc(ki.cas, func(ca []byte) bool { return bytes.Equal(ca, cert.SignatureKey.Marshal()) }) {
		return identity{}, keyRefused(audit.ReasonCertificateInvalid, "certificate signed by an unknown authority %s", gossh.FingerprintSHA256(cert.SignatureKey))
	}
	if len(cert.ValidPrincipals) == 0 {
		return identity{}, keyRefused(audit.ReasonCertificateInvalid, "certificate names no principal")
	}
	var users []string
	for _, p := range cert.ValidPrincipals {
		if ki.known[p] && !slices.Contains(users, p) {
			users = append(users, p)
		}
	}
	principal, err := pickUser(users, loginName)
	if err != nil {
		return identity{}, err
	}
	checker := gossh.CertChecker{
		SupportedCriticalOptions: []string{"source-address"},
		Clock:                    func() time.Time { return now },
	}
	if err := checker.CheckCert(principal, cert); err != nil {
		return identity{}, keyRefused(audit.ReasonCertificateInvalid, "certificate: %v", err)
	}
	if err := checkSourceAddress(cert.CriticalOptions["source-address"], remote); err != nil {
		return identity{}, keyRefused(audit.ReasonCertificateInvalid, "%v", err)
	}
	return identity{
		User:           principal,
		KeyFingerprint: gossh.FingerprintSHA256(cert.Key),
		CAFingerprint:  gossh.FingerprintSHA256(cert.SignatureKey),
		CertKeyID:      cert.KeyId,
	}, nil
}

// keyRefusal is why identify refused a key: Reason is the audit trail's
// word for it, the message (Error) the operator's detail, which a reload
// also shows the admin whose open connection it closes (it names only the
// admin's own key or certificate).
type keyRefusal struct {
	Reason audit.Reason
	msg    string
}

func (e *keyRefusal) Error() string { return e.msg }

func keyRefused(reason audit.Reason, format string, args ...any) error {
	return &keyRefusal{Reason: reason, msg: fmt.Sprintf(format, args...)}
}

// pickUser chooses among the users a key or certificate names: the only
// one, or the one the login name names.
func pickUser(users []string, loginName string) (string, error) {
	switch {
	case len(users) == 0:
		return "", keyRefused(audit.ReasonKeyNotAuthorized, "key not authorized for any user")
	case len(users) == 1:
		return users[0], nil
	case slices.Contains(users, loginName):
		return loginName, nil
	default:
		return "", keyRefused(audit.ReasonKeyNotAuthorized, "key is shared by users %s; log in as one of them without a target", strings.Join(users, ", "))
	}
}

// checkSourceAddress enforces a certificate's source-address option: a
// comma-separated list of addresses and CIDRs. Empty allows any source.
func checkSourceAddress(opt string, remote net.Addr) error {
	if opt == "" {
		return nil
	}
	ip := net.ParseIP(hostOf(remote))
	if ip == nil {
		return fmt.Errorf("certificate source-address: cannot parse client address %v", remote)
	}
	for _, s := range strings.Split(opt, ",") {
		if !strings.Contains(s, "/") {
			if a := net.ParseIP(s); a != nil && a.Equal(ip) {
				return nil
			}
			continue
		}
		if _, n, err := net.ParseCIDR(s); err == nil && n.Contains(ip) {
			return nil
		}
	}
	return fmt.Errorf("certificate source-address %q does not allow %s", opt, ip)
}
