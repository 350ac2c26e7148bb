package proxy

import (
	"net"
	"path"
	"slices"
	"sort"
	"strconv"

	"github.com/jumpcast/jumpcast/config"
	"github.com/jumpcast/jumpcast/internal/audit"
)

// Policy answers who may reach which target as which remote user. It is
// built from one config snapshot and never changes; Reload swaps the whole
// Policy. Deny is the default: a user, target or remote user that no rule
// names is refused.
type Policy struct {
	cfg *config.Config
}

// NewPolicy returns the policy of cfg, which must be defaulted and valid.
func NewPolicy(cfg *config.Config) *Policy {
	return &Policy{cfg: cfg}
}

// Grant is one thing a user may do: reach Target (an alias, at Address) or
// any raw host matching Hosts, as one of RemoteUsers (globs), with the
// switches of the rules that granted it.
type Grant struct {
	Target          string   // alias; "" for a raw-host grant
	Address         string   // the alias's host:port; "" for a raw-host grant
	Hosts           []string // globs over raw hosts; empty for an alias grant
	RemoteUsers     []string // globs over remote users
	PortForwarding  bool
	AgentAuth       bool
	AgentForwarding bool
	WebTerminal     bool // reachable from the web site's terminal page
}

// Grants returns the effective policy for user: every alias their rules
// (and their groups' rules) match, one Grant per alias sorted by name with
// the union of remote users and switches, then one Grant per raw-host rule.
// An unknown user gets nil.
func (p *Policy) Grants(user string) []Grant {
	if _, ok := p.cfg.Users[user]; !ok {
		return nil
	}
	rules := p.rules(user)
	byAlias := map[string]*Grant{}
	var hosts []Grant
	for _, r := range rules {
		aa, af := r.AgentAuth, r.AgentForwarding
		for alias, t := range p.cfg.Targets {
			if !anyMatch(r.Targets, alias) {
				continue
			}
			g := byAlias[alias]
			if g == nil {
				g = &Grant{Target: alias, Address: targetAddress(t)}
				byAlias[alias] = g
			}
			for _, u := range r.As {
				if !slices.Contains(g.RemoteUsers, u) {
					g.RemoteUsers = append(g.RemoteUsers, u)
				}
			}
			g.PortForwarding = g.PortForwarding || r.PortForwarding
			g.AgentAuth = g.AgentAuth || aa
			g.AgentForwarding = g.AgentForwarding || af
			g.WebTerminal = g.WebTerminal || r.WebTerminal
		}
		if len(r.Hosts) > 0 {
			hosts = append(hosts, Grant{
				Hosts: slices.Clone(r.Hosts), RemoteUsers: slices.Clone(r.As),
				PortForwarding: r.PortForwarding, AgentAuth: aa, AgentForwarding: af, WebTerminal: r.WebTerminal,
			})
		}
	}
	out := make([]Grant, 0, len(byAlias)+len(hosts))
	for _, g := range byAlias {
		out = append(out, *g)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Target < out[j].Target })
	return append(out, hosts...)
}

// Decision is the outcome of one policy check.
type Decision struct {
	Allowed bool
	// Reason says why, in a few words: one of the policy reasons of
	// package audit (audit.ReasonRuleMatched, audit.ReasonNoTarget...) or
	// audit.RemoteUserNotPermitted. It is the policy event's reason.
	Reason audit.Reason
	// Unknown is true when the target is neither an alias nor a raw host a
	// rule of the user names: the admin sees "no such target".
	Unknown bool
	// Alias is the target alias, or "" for a raw host.
	Alias string
	// Address is the host:port to dial (set whenever the target resolved).
	Address string
	// Target is the alias's config entry (zero for a raw host).
	Target config.Target
	// Switches of the matching rules, or-ed together.
	PortForwarding, AgentAuth, AgentForwarding bool
	// WebTerminal: a matching rule grants web_terminal (web.go).
	WebTerminal bool
}

// Decide checks whether user may reach login's target as login's remote
// user. It does no I/O.
func (p *Policy) Decide(user string, login Login) Decision {
	if _, ok := p.cfg.Users[user]; !ok {
		return Decision{Reason: audit.ReasonUnknownUser}
	}
	if !login.HasTarget {
		return Decision{Reason: audit.ReasonNoTargetGiven, Unknown: true}
	}
	rules := p.rules(user)
	d := Decision{}
	match := func(r config.Rule) bool { return anyHostMatch(r.Hosts, login.Host) }
	if t, ok := p.cfg.Targets[login.Host]; ok {
		host, port, _ := config.SplitHostPortDefault(t.Address, 22)
		if login.Port != 0 && login.Port != port {
			return Decision{Reason: audit.ReasonAliasPort, Unknown: true}
		}
		d.Alias, d.Target = login.Host, t
		d.Address = net.JoinHostPort(host, strconv.Itoa(port))
		match = func(r config.Rule) bool { return anyMatch(r.Targets, login.Host) }
	} else {
		port := login.Port
		if port == 0 {
			port = 22
		}
		d.Address = net.JoinHostPort(login.Host, strconv.Itoa(port))
	}
	targetOK := false
	for _, r := range rules {
		if !match(r) {
			continue
		}
		targetOK = true
		if !anyMatch(r.As, login.RemoteUser) {
			continue
		}
		d.Allowed = true
		d.PortForwarding = d.PortForwarding || r.PortForwarding
		d.AgentAuth = d.AgentAuth || r.AgentAuth
		d.AgentForwarding = d.AgentForwarding || r.AgentForwarding
		d.WebTerminal = d.WebTerminal || r.WebTerminal
	}
	switch {
	case d.Allowed:
		d.Reason = audit.ReasonRuleMatched
	case d.Alias == "" && !targetOK:
		// A raw host no rule names is, for this user, no target at all.
		d.Reason, d.Unknown = audit.ReasonNoTarget, true
	case !targetOK:
		d.Reason = audit.ReasonTargetNotPermitted
	default:
		d.Reason = audit.RemoteUserNotPermitted(login.RemoteUser)
	}
	return d
}

// rules returns the user's own rules followed by their groups' rules.
func (p *Policy) rules(user string) []config.Rule {
	u, ok := p.cfg.Users[user]
	if !ok {
		return nil
	}
	rules := slices.Clone(u.Allow)
	for _, g := range u.Groups {
		rules = append(rules, p.cfg.Groups[g].Allow...)
	}
	return rules
}

// anyMatch reports whether name matches one of the globs (path.Match
// syntax; validated by config, so errors count as no match).
func anyMatch(globs []string, name string) bool {
	for _, g := range globs {
		if ok, err := path.Match(g, name); err == nil && ok {
			return true
		}
	}
	return false
}

// targetAddress returns the target's address with the default port made
// explicit.
func targetAddress(t config.Target) string {
	host, port, err := config.SplitHostPortDefault(t.Address, 22)
	if err != nil {
		return t.Address
	}
	return net.JoinHostPort(host, strconv.Itoa(port))
}

// DecideForward checks a direct-tcpip channel opened on a connection
// without target ("ssh -J alice@bastion root@db1"): the destination must
// be an alias or raw host that one of the user's rules names with
// port_forwarding set. The remote user is unknown (the inner session is
// end-to-end encrypted), so As is not checked. Address is where to dial.
func (p *Policy) DecideForward(user, host string, port int) Decision {
	if _, ok := p.cfg.Users[user]; !ok {
		return Decision{Reason: audit.ReasonUnknownUser}
	}
	d := Decision{Address: net.JoinHostPort(host, strconv.Itoa(port))}
	match := func(r config.Rule) bool { return anyHostMatch(r.Hosts, host) }
	if t, ok := p.cfg.Targets[host]; ok {
		h, tp, _ := config.SplitHostPortDefault(t.Address, 22)
		if port != tp && port != 22 {
			return Decision{Reason: audit.ReasonAliasPort, Unknown: true}
		}
		d.Alias, d.Target, d.Address = host, t, net.JoinHostPort(h, strconv.Itoa(tp))
		match = func(r config.Rule) bool { return anyMatch(r.Targets, host) }
	}
	for _, r := range p.rules(user) {
		if match(r) && r.PortForwarding {
			d.Allowed, d.PortForwarding, d.Reason = true, true, audit.ReasonForwardingAllowed
			return d
		}
	}
	d.Reason = audit.ReasonForwardingNotAllowed
	return d
}
