// Package proxyprotocol accepts the PROXY protocol (v1 and v2, HAProxy's
// header that carries a client's address through a TCP load balancer) on
// a listener, from configured balancer addresses only. It wraps
// github.com/pires/go-proxyproto with jumpcast's policy:
//
//   - a connection from a listed address (the balancer) must start with a
//     PROXY header, and its RemoteAddr is then the client's, so the audit
//     trail, the recordings and the per-address login limits see the admin
//     and not the balancer; one without a header is refused;
//   - a connection from anywhere else is used as it is, and refused if it
//     sends a PROXY header (nobody but the balancer may claim an address).
//
// The header is read in the connection's own goroutine on its first Read
// or RemoteAddr, within ReadHeaderTimeout, never in the accept loop.
package proxyprotocol

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	proxyproto "github.com/pires/go-proxyproto"
)

// ReadHeaderTimeout bounds how long a balancer's connection may take to
// send its PROXY header.
const ReadHeaderTimeout = 5 * time.Second

// ParseFrom parses balancer addresses: CIDRs or single IPs.
func ParseFrom(from []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(from))
	for _, s := range from {
		s = strings.TrimSpace(s)
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("%q is neither an IP address nor a CIDR", s)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}

// Listen wraps ln so that connections from the addresses in from carry
// the client's address in a PROXY header (see the package comment). An
// empty from returns ln unchanged.
func Listen(ln net.Listener, from []string) (net.Listener, error) {
	if len(from) == 0 {
		return ln, nil
	}
	nets, err := ParseFrom(from)
	if err != nil {
		return nil, err
	}
	return &proxyproto.Listener{
		Listener:          ln,
		ReadHeaderTimeout: ReadHeaderTimeout,
		ConnPolicy: func(o proxyproto.ConnPolicyOptions) (proxyproto.Policy, error) {
			if trusted(nets, o.Upstream) {
				return proxyproto.REQUIRE, nil
			}
			return proxyproto.REJECT, nil
		},
	}, nil
}

func trusted(nets []netip.Prefix, a net.Addr) bool {
	tcp, ok := a.(*net.TCPAddr)
	if !ok {
		return false
	}
	ip, ok := netip.AddrFromSlice(tcp.IP)
	if !ok {
		return false
	}
	ip = ip.Unmap()
	for _, n := range nets {
		if n.Contains(ip) {
			return true
		}
	}
	return false
}
