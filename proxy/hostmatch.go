package proxy

import (
	"net/netip"
	"path"
	"strings"
)

// anyHostMatch reports whether a raw host name or address typed by an
// admin matches one of a rule's hosts patterns. Plain path.Match would let
// "10.0.0.*" match "10.0.0.5.attacker.example" and "db*" match
// "db.attacker.example", so patterns are read by kind:
//
//   - "*" alone matches every host (an explicit "anywhere" rule);
//   - a CIDR prefix ("10.0.1.0/24", "fd00::/8") matches addresses inside it;
//   - an address pattern (only digits, dots and glob characters, or any
//     pattern with a colon) matches only a host that parses as an IP
//     address, compared in its canonical form;
//   - a name pattern matches label by label, case-insensitively: "*" stays
//     inside one label, so "*.internal" matches "db1.internal" but neither
//     "a.b.internal" nor "internal.attacker.example".
func anyHostMatch(patterns []string, host string) bool {
	addr, addrErr := netip.ParseAddr(host)
	isAddr := addrErr == nil && addr.Zone() == ""
	if isAddr {
		addr = addr.Unmap()
	}
	for _, p := range patterns {
		if hostMatch(p, host, addr, isAddr) {
			return true
		}
	}
	return false
}

func hostMatch(pattern, host string, addr netip.Addr, isAddr bool) bool {
	if pattern == "*" {
		return true
	}
	if prefix, err := netip.ParsePrefix(pattern); err == nil {
		return isAddr && prefix.Masked().Contains(addr)
	}
	if addressPattern(pattern) {
		if !isAddr {
			return false
		}
		ok, err := path.Match(strings.ToLower(pattern), addr.String())
		return err == nil && ok
	}
	if isAddr {
		return false
	}
	pl := strings.Split(strings.ToLower(pattern), ".")
	hl := strings.Split(strings.ToLower(host), ".")
	if len(pl) != len(hl) {
		return false
	}
	for i := range pl {
		if ok, err := path.Match(pl[i], hl[i]); err != nil || !ok {
			return false
		}
	}
	return true
}

// addressPattern reports whether pattern can only mean IP addresses.
func addressPattern(pattern string) bool {
	if strings.Contains(pattern, ":") {
		return true
	}
	return strings.Trim(pattern, "0123456789.*?[]-!^") == ""
}
