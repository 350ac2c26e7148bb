package proxy

import (
	"testing"

	"github.com/jumpcast/jumpcast/config"
	"github.com/jumpcast/jumpcast/internal/audit"
)

func testPolicyConfig(t *testing.T) *config.Config {
	t.Helper()
	doc := `
users:
  alice:
    allow:
      - targets: ["db*"]
        as: ["root", "deploy"]
      - hosts: ["10.0.0.*"]
        as: ["ops"]
        port_forwarding: true
  bob:
    groups: [web]
    allow:
      - targets: ["db1"]
        as: ["postgres"]
        agent_auth: false
        agent_forwarding: false
  carol: {}
groups:
  web:
    allow:
      - targets: ["web*"]
        as: ["*"]
targets:
  db1: {address: "10.0.0.5"}
  db2: {address: "10.0.0.6:2222"}
  web1: {address: "[2001:db8::7]:22"}
`
	cfg, err := config.Parse([]byte(doc), "policy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestPolicyDecide(t *testing.T) {
	p := NewPolicy(testPolicyConfig(t))
	tests := []struct {
		name, user, login string
		allowed, unknown  bool
		addr              string
		reason            audit.Reason
	}{
		{"alias allowed", "alice", "root@db1", true, false, "10.0.0.5:22", audit.ReasonRuleMatched},
		{"alias other port", "alice", "deploy@db2", true, false, "10.0.0.6:2222", audit.ReasonRuleMatched},
		{"alias with its port", "alice", "deploy@db2:2222", true, false, "10.0.0.6:2222", audit.ReasonRuleMatched},
		{"alias with another port", "alice", "deploy@db2:22", false, true, "", audit.ReasonAliasPort},
		{"remote user denied", "alice", "postgres@db1", false, false, "10.0.0.5:22", audit.RemoteUserNotPermitted("postgres")},
		{"target denied", "alice", "root@web1", false, false, "[2001:db8::7]:22", audit.ReasonTargetNotPermitted},
		{"unknown alias", "alice", "root@db9", false, true, "db9:22", audit.ReasonNoTarget},
		{"raw host allowed", "alice", "ops@10.0.0.9:2200", true, false, "10.0.0.9:2200", audit.ReasonRuleMatched},
		{"raw host other user", "alice", "root@10.0.0.9", false, false, "10.0.0.9:22", audit.RemoteUserNotPermitted("root")},
		{"raw host not named", "alice", "ops@10.1.0.9", false, true, "10.1.0.9:22", audit.ReasonNoTarget},
		{"group rule", "bob", "anyone@web1", true, false, "[2001:db8::7]:22", audit.ReasonRuleMatched},
		{"nothing allowed", "carol", "root@db1", false, false, "10.0.0.5:22", audit.ReasonTargetNotPermitted},
		{"unknown user", "mallory", "root@db1", false, false, "", audit.ReasonUnknownUser},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := ParseLogin(tt.login)
			if err != nil {
				t.Fatal(err)
			}
			d := p.Decide(tt.user, l)
			if d.Allowed != tt.allowed || d.Unknown != tt.unknown || d.Reason != tt.reason || (tt.addr != "" && d.Address != tt.addr) {
				t.Errorf("Decide(%s, %s) = %+v", tt.user, tt.login, d)
			}
		})
	}
	d := p.Decide("bob", Login{RemoteUser: "postgres", Target: "db1", Host: "db1", HasTarget: true})
	if !d.Allowed || d.AgentAuth || d.AgentForwarding || d.PortForwarding {
		t.Errorf("bob's switches: %+v", d)
	}
	d = p.Decide("alice", Login{RemoteUser: "ops", Target: "10.0.0.1", Host: "10.0.0.1", HasTarget: true})
	if !d.PortForwarding || !d.AgentAuth || !d.AgentForwarding {
		t.Errorf("alice's raw host switches: %+v", d)
	}
}

func TestPolicyGrants(t *testing.T) {
	p := NewPolicy(testPolicyConfig(t))
	g := p.Grants("alice")
	if len(g) != 3 || g[0].Target != "db1" || g[1].Target != "db2" || g[2].Hosts[0] != "10.0.0.*" {
		t.Fatalf("alice's grants = %+v", g)
	}
	if g[1].Address != "10.0.0.6:2222" || len(g[0].RemoteUsers) != 2 || !g[2].PortForwarding {
		t.Errorf("alice's grants = %+v", g)
	}
	b := p.Grants("bob")
	if len(b) != 2 || b[0].Target != "db1" || b[1].Target != "web1" || b[0].AgentForwarding {
		t.Errorf("bob's grants = %+v", b)
	}
	if got := p.Grants("carol"); len(got) != 0 {
		t.Errorf("carol's grants = %+v", got)
	}
	if got := p.Grants("nobody"); got != nil {
		t.Errorf("unknown user's grants = %+v", got)
	}
}
