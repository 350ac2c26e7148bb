package proxy

import "testing"

func TestHostPatterns(t *testing.T) {
	for _, c := range []struct {
		pattern, host string
		want          bool
	}{
		{"10.0.0.*", "10.0.0.5", true},
		{"10.0.0.*", "10.0.0.5.attacker.example", false}, // a DNS name that starts like the subnet
		{"10.0.0.*", "10.0.1.5", false},
		{"10.0.0.*", "::ffff:10.0.0.5", true}, // the same address, mapped
		{"10.0.0.?", "10.0.0.5", true},
		{"10.0.0.[1-3]", "10.0.0.2", true},
		{"10.0.0.[1-3]", "10.0.0.4", false},
		{"10.0.1.0/24", "10.0.1.200", true},
		{"10.0.1.0/24", "10.0.2.1", false},
		{"10.0.1.0/24", "10.0.1.200.evil", false},
		{"10.0.1.7/24", "10.0.1.9", true}, // host bits ignored
		{"fd00::/8", "fd00::1", true},
		{"fd00::/8", "fe80::1", false},
		{"fd00::*", "fd00::1", true},
		{"fd00::*", "fd00::1%eth0", false}, // zones are refused
		{"*.internal", "db1.internal", true},
		{"*.internal", "DB1.Internal", true},
		{"*.internal", "a.b.internal", false},
		{"*.internal", "internal.attacker.example", false},
		{"*.*.internal", "a.b.internal", true},
		{"db*", "db1", true},
		{"db*", "db.attacker.example", false},
		{"db*.prod", "db1.prod", true},
		{"db*.prod", "10.0.0.1", false},
		{"*", "anything.at.all", true},
		{"*", "10.9.8.7", true},
		{"10.0.0.1", "10.0.0.1", true},
		{"10.0.0.1", "010.0.0.1", false}, // not an address: leading zeros
	} {
		if got := anyHostMatch([]string{c.pattern}, c.host); got != c.want {
			t.Errorf("%q against %q: %v, want %v", c.pattern, c.host, got, c.want)
		}
	}
}

// A hosts rule for a subnet must not admit a DNS name built to look like
// one of its addresses, through a login or a -J forward.
func TestSubnetRuleRefusesLookalikeNames(t *testing.T) {
	p := NewPolicy(testPolicyConfig(t))
	for _, host := range []string{"10.0.0.5.attacker.example", "10.0.0.5-attacker.example"} {
		if d := p.Decide("alice", Login{RemoteUser: "ops", Host: host, HasTarget: true}); d.Allowed {
			t.Errorf("login to %s allowed: %+v", host, d)
		}
	}
	if d := p.Decide("alice", Login{RemoteUser: "ops", Host: "10.0.0.5", HasTarget: true}); !d.Allowed {
		t.Errorf("login to 10.0.0.5 refused: %+v", d)
	}
}

func TestSubnetRuleRefusesLookalikeForwards(t *testing.T) {
	p := NewPolicy(testPolicyConfig(t))
	if d := p.DecideForward("alice", "10.0.0.5.attacker.example", 22); d.Allowed {
		t.Errorf("forward to a lookalike name allowed: %+v", d)
	}
	if d := p.DecideForward("alice", "10.0.0.5", 22); !d.Allowed {
		t.Errorf("forward to 10.0.0.5 refused: %+v", d)
	}
}
