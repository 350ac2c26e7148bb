package main

import (
	"net"

	"github.com/jumpcast/jumpcast/config"
	"github.com/jumpcast/jumpcast/internal/bastion"
	"github.com/jumpcast/jumpcast/proxy"
	"github.com/jumpcast/jumpcast/replayweb"
	gossh "golang.org/x/crypto/ssh"
)

// webTerminal wires the web site's terminal page to the bastion's own
// proxy: grants from its policy, connections through proxy.OpenWebConn,
// the limits of web.terminal. Who may use it is policy
// (allow[].web_terminal); without such a rule the page only lists what
// ssh would.
func webTerminal(cfg *config.Config, b *bastion.Bastion) *replayweb.TerminalOptions {
	px := b.Proxy
	keys := make([]gossh.PublicKey, len(b.HostKeys))
	for i, k := range b.HostKeys {
		keys[i] = k.PublicKey()
	}
	return &replayweb.TerminalOptions{
		Grants: func(user string) []replayweb.TerminalGrant {
			gs := px.WebGrants(user)
			if gs == nil {
				return nil
			}
			out := make([]replayweb.TerminalGrant, len(gs))
			for i, g := range gs {
				out[i] = replayweb.TerminalGrant{Target: g.Target, Address: g.Address, Hosts: g.Hosts,
					RemoteUsers: g.RemoteUsers, Web: g.WebTerminal}
			}
			return out
		},
		Open: func(user, account string, remote net.Addr, key gossh.PublicKey) (net.Conn, error) {
			return px.OpenWebConn(proxy.WebLogin{User: user, Account: account, RemoteAddr: remote, Key: key})
		},
		HostKeys:    keys,
		FreshLogin:  cfg.Web.Terminal.FreshLogin,
		MaxSessions: cfg.Web.Terminal.MaxSessions,
		IdleTimeout: cfg.Web.Terminal.IdleTimeout,
	}
}
