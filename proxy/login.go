package proxy

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxLoginName is the longest login name ParseLogin accepts, in bytes.
const MaxLoginName = 256

// Login is a parsed SSH login name. The admin types
// "ssh REMOTEUSER@TARGET@bastion"; OpenSSH splits the destination at the
// last '@', so the bastion sees "REMOTEUSER@TARGET". "REMOTEUSER+TARGET" is
// the same for tools that do not like a second '@' (scp, rsync).
type Login struct {
	// RemoteUser is the user on the target. Without a target it is the
	// whole login name ("ssh alice@bastion" gives "alice").
	RemoteUser string
	// Target is the target exactly as typed: an alias ("db1"), a host
	// ("db.internal"), "host:port", "[v6]:port" or a bare IPv6 address.
	Target string
	// Host is Target without its port and brackets.
	Host string
	// Port is the port typed after the host; 0 means none was typed.
	Port int
	// HasTarget is false for a login name without '@' or '+': the session
	// then only prints who the user is and what they may reach.
	HasTarget bool
}

// LoginError is a malformed login name. Its message is one line, safe to
// show on the admin's terminal (the name is quoted with %q).
type LoginError struct {
	Name   string
	Reason string
}

func (e *LoginError) Error() string {
	name := e.Name
	if len(name) > 64 {
		name = name[:64] + "…"
	}
	return fmt.Sprintf("malformed login name %q: %s", name, e.Reason)
}

// ParseLogin parses a login name: REMOTEUSER@TARGET, REMOTEUSER+TARGET, or
// a bare name without target. TARGET is an alias, a host name, host:port,
// [v6]:port, [v6] or a bare IPv6 address. Control characters, whitespace,
// invisible (format) and unassigned characters, '/', empty parts, a second
// separator ("root@@db1") and names longer than MaxLoginName are rejected
// with a *LoginError.
func ParseLogin(name string) (Login, error) {
	bad := func(reason string) (Login, error) {
		return Login{}, &LoginError{Name: name, Reason: reason}
	}
	if name == "" {
		return bad("empty")
	}
	if len(name) > MaxLoginName {
		return bad(fmt.Sprintf("longer than %d bytes", MaxLoginName))
	}
	if !utf8.ValidString(name) {
		return bad("not valid UTF-8")
	}
	for _, r := range name {
		switch {
		case unicode.IsControl(r):
			return bad("contains a control character")
		case unicode.IsSpace(r):
			return bad("contains whitespace")
		case r == '/' || r == '\\':
			return bad("contains a slash")
		case !unicode.IsGraphic(r):
			// Bidi overrides and zero-width characters would make a
			// name look like another one in logs and the web list.
			return bad("contains an invisible or unassigned character")
		}
	}
	sep := strings.IndexAny(name, "@+")
	if sep < 0 {
		if err := checkRemoteUser(name); err != "" {
			return bad(err)
		}
		return Login{RemoteUser: name}, nil
	}
	user, target := name[:sep], name[sep+1:]
	if user == "" {
		return bad("empty remote user (want REMOTEUSER@TARGET)")
	}
	if target == "" {
		return bad("empty target (want REMOTEUSER@TARGET)")
	}
	if strings.ContainsAny(target, "@+") {
		return bad("more than one '@' or '+' (want REMOTEUSER@TARGET)")
	}
	if err := checkRemoteUser(user); err != "" {
		return bad(err)
	}
	host, port, reason := splitTarget(target)
	if reason != "" {
		return bad(reason)
	}
	return Login{RemoteUser: user, Target: target, Host: host, Port: port, HasTarget: true}, nil
}

// checkRemoteUser returns why u is not a usable remote user name, or "".
// Characters that shells, scp or sftp would read specially are refused.
func checkRemoteUser(u string) string {
	if len(u) > 64 {
		return "remote user longer than 64 bytes"
	}
	if u[0] == '-' {
		return "remote user starts with '-'"
	}
	for _, r := range u {
		if strings.ContainsRune(":[]'\"`$;&|<>*?!(){}%#=,~^", r) {
			return fmt.Sprintf("remote user contains %q", r)
		}
	}
	return ""
}

// splitTarget splits a typed target into host and port (0 when none was
// typed), or returns why it is malformed.
func splitTarget(t string) (host string, port int, reason string) {
	switch {
	case strings.HasPrefix(t, "["):
		end := strings.IndexByte(t, ']')
		if end < 0 {
			return "", 0, "unclosed '[' in target"
		}
		host = t[1:end]
		rest := t[end+1:]
		if ip := net.ParseIP(host); ip == nil || ip.To4() != nil && !strings.Contains(host, ":") {
			return "", 0, "brackets need an IPv6 address"
		}
		if rest == "" {
			return host, 0, ""
		}
		if rest[0] != ':' {
			return "", 0, "unexpected text after ']'"
		}
		p, reason := parsePort(rest[1:])
		return host, p, reason
	case strings.Count(t, ":") > 1:
		if net.ParseIP(t) == nil {
			return "", 0, "invalid IPv6 address (write [v6]:port for a port)"
		}
		return t, 0, ""
	case strings.Contains(t, ":"):
		h, ps, _ := strings.Cut(t, ":")
		if reason := checkHost(h); reason != "" {
			return "", 0, reason
		}
		p, reason := parsePort(ps)
		return h, p, reason
	default:
		return t, 0, checkHost(t)
	}
}

// parsePort parses a decimal TCP port 1..65535.
func parsePort(s string) (int, string) {
	if s == "" || len(s) > 5 {
		return 0, "invalid port"
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, "invalid port"
		}
	}
	p, err := strconv.Atoi(s)
	if err != nil || p < 1 || p > 65535 {
		return 0, "port out of range"
	}
	return p, ""
}

// checkHost accepts aliases, DNS names and IPv4 addresses: letters,
// digits, '.', '-', '_', not starting with '-' or '.'.
func checkHost(h string) string {
	if h == "" {
		return "empty host"
	}
	if len(h) > 253 {
		return "host name too long"
	}
	if h[0] == '-' || h[0] == '.' {
		return "host starts with '-' or '.'"
	}
	for _, r := range h {
		ok := r == '.' || r == '-' || r == '_' ||
			r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
		if !ok {
			return fmt.Sprintf("host contains %q", r)
		}
	}
	return ""
}
