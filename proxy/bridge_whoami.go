package proxy

import (
	"fmt"
	"strings"

	gossh "golang.org/x/crypto/ssh"
)

// whoami answers a login without target ("ssh alice@bastion"): who the
// admin is, with which key, and what they may reach; then exit status 0.
func (br *bridge) whoami(r *gossh.Request) {
	reply(r, true)
	cc := br.cc
	cc.audits.Wait() // the login is stored before anything is shown
	br.mu.Lock()
	pty := br.pty
	br.mu.Unlock()
	text := whoamiText(cc.id, br.s.snap.Load().policy.Grants(cc.id.User))
	_, _ = br.ch.Write([]byte(termLine(text, pty)))
	_, _ = br.ch.SendRequest("exit-status", false, gossh.Marshal(exitStatusMsg{Status: 0}))
	_ = br.ch.CloseWrite()
	_ = br.ch.Close()
	br.s.log.Info("whoami", "user", cc.id.User, "remote_addr", cc.remote.String())
}

// whoamiText renders identity and grants, one grant per line.
func whoamiText(id identity, grants []Grant) string {
	var b strings.Builder
	fmt.Fprintf(&b, "jumpcast: you are %s (key %s)", id.User, id.KeyFingerprint)
	if id.CAFingerprint != "" {
		fmt.Fprintf(&b, " by certificate %q from CA %s", id.CertKeyID, id.CAFingerprint)
	}
	if len(grants) == 0 {
		b.WriteString("\nYou may not reach any target yet; ask an operator.")
		return b.String()
	}
	b.WriteString("\nYou may reach:")
	for _, g := range grants {
		what := g.Target + " (" + g.Address + ")"
		if g.Target == "" {
			what = "hosts " + strings.Join(g.Hosts, ", ")
		}
		fmt.Fprintf(&b, "\n  %s as %s", what, strings.Join(g.RemoteUsers, ", "))
		if g.PortForwarding {
			b.WriteString(" (port forwarding allowed)")
		}
	}
	b.WriteString("\nConnect with: ssh REMOTEUSER@TARGET@<this bastion> (or REMOTEUSER+TARGET for scp and rsync)")
	return b.String()
}
