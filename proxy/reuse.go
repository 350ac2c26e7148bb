package proxy

import (
	"sync"
	"time"
)

// Upstream reuse is OpenSSH's ControlPersist, kept on the bastion: when an
// admin connection ends, the target connection it made stays open for
// upstream.reuse_idle, and the same bastion user's next connection to the
// same address as the same remote user takes it over instead of dialing,
// exchanging keys and authenticating again (a third of an `ssh host true`
// on a LAN). Scripts and configuration tools that run one ssh per command
// gain the most.
//
// What may be kept is deliberately narrow:
//   - only connections authenticated with bastion-held keys (identity
//     files): one that used the admin's forwarded agent or a relayed
//     password is closed with its admin connection, so nobody inherits a
//     login they could not make themselves;
//   - never one on which the admin asked for agent forwarding;
//   - it is handed only to the same bastion user, for the same target
//     address and remote user, after that connection's own policy
//     decision allowed it, and only after the target answers a probe;
//   - a reload (SIGHUP) or shutdown closes every kept connection, and one
//     made under an older configuration is never kept or handed out, so a
//     changed policy, key or host-key setting never meets an old login.
//
// Each session on a reused connection is still its own channel with its
// own recording and audit events; the target's log shows one login for
// several sessions, as with ControlMaster.

// reuseKey says which later connections may take over a kept upstream.
type reuseKey struct {
	user       string // bastion user
	alias      string // target alias ("" for a raw host): its identity files may differ
	address    string // target host:port as dialed
	remoteUser string
}

// maxKept bounds the connections kept at once; a connection that would
// exceed it is closed instead.
const maxKept = 256

// reuseProbeTimeout bounds the liveness probe of a kept connection before
// it is handed out; a connection that does not answer is closed.
const reuseProbeTimeout = 2 * time.Second

// upstreamPool holds the kept connections. Its methods are safe for
// concurrent use.
type upstreamPool struct {
	mu     sync.Mutex // guards the fields below
	kept   map[reuseKey][]*upstream
	n      int  // connections in kept
	closed bool // closeAll was called: nothing more is kept
}

func newUpstreamPool() *upstreamPool {
	return &upstreamPool{kept: map[reuseKey][]*upstream{}}
}

// park keeps up for idle, or closes it when the pool is closed or full.
// The caller has checked that up may be reused at all.
func (p *upstreamPool) park(up *upstream, idle time.Duration) {
	p.mu.Lock()
	if p.closed || p.n >= maxKept || idle <= 0 {
		p.mu.Unlock()
		_ = up.Close()
		return
	}
	p.kept[up.key] = append(p.kept[up.key], up)
	p.n++
	up.expiry = time.AfterFunc(idle, func() { // runs once, on its own goroutine
		if p.remove(up) {
			_ = up.Close()
		}
	})
	p.mu.Unlock()
}

// take removes and returns the most recently kept connection for k, or nil.
// The connection may have died since it was kept: probe before use.
func (p *upstreamPool) take(k reuseKey) *upstream {
	p.mu.Lock()
	defer p.mu.Unlock()
	list := p.kept[k]
	if len(list) == 0 {
		return nil
	}
	up := list[len(list)-1]
	p.unlink(k, len(list)-1)
	return up
}

// remove takes up out of the pool; it reports whether it was there.
func (p *upstreamPool) remove(up *upstream) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, u := range p.kept[up.key] {
		if u == up {
			p.unlink(up.key, i)
			return true
		}
	}
	return false
}

// unlink drops entry i of k and stops its expiry timer. p.mu is held.
func (p *upstreamPool) unlink(k reuseKey, i int) {
	list := p.kept[k]
	if t := list[i].expiry; t != nil {
		t.Stop()
	}
	list[i] = list[len(list)-1]
	list = list[:len(list)-1]
	if len(list) == 0 {
		delete(p.kept, k)
	} else {
		p.kept[k] = list
	}
	p.n--
}

// flush closes every kept connection; later ones are kept again. It
// returns how many were closed.
func (p *upstreamPool) flush() int {
	p.mu.Lock()
	var all []*upstream
	for _, list := range p.kept {
		for _, up := range list {
			if up.expiry != nil {
				up.expiry.Stop()
			}
			all = append(all, up)
		}
	}
	p.kept, p.n = map[reuseKey][]*upstream{}, 0
	p.mu.Unlock()
	for _, up := range all {
		_ = up.Close()
	}
	return len(all)
}

// closeAll closes every kept connection and keeps none from now on.
func (p *upstreamPool) closeAll() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.flush()
}

// len returns the number of kept connections.
func (p *upstreamPool) len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.n
}

// takeKept returns a kept target connection for k that still answers,
// adopted by cc, or nil.
func (cc *clientConn) takeKept(k reuseKey, d Decision) *upstream {
	s := cc.s
	for {
		up := s.pool.take(k)
		if up == nil {
			return nil
		}
		start := time.Now()
		if up.snap != s.snap.Load() || !targetAlive(up.client, reuseProbeTimeout) {
			_ = up.Close()
			continue
		}
		if s.onDial != nil {
			s.onDial(DialReused, time.Since(start))
		}
		up.setOwner(cc)
		if !cc.adopt(up) {
			up.setOwner(nil)
			s.pool.park(up, s.snap.Load().cfg.Upstream.ReuseIdle)
			return nil
		}
		up.mu.Lock()
		uses := up.uses
		up.mu.Unlock()
		s.log.Info("target connection reused", "user", cc.id.User, "target", cc.login.Target,
			"remote_user", cc.login.RemoteUser, "remote_addr", cc.remote.String(),
			"address", d.Address, "uses", uses)
		return up
	}
}

// release is called when the admin connection ends: up is kept for the
// same user's next connection when it may be reused, else closed.
func (cc *clientConn) release(up *upstream) {
	s := cc.s
	idle := s.snap.Load().cfg.Upstream.ReuseIdle
	if !up.reusable || idle <= 0 || cc.agentRequested() || s.isClosing() || up.snap != s.snap.Load() {
		_ = up.Close()
		return
	}
	up.setOwner(nil)
	s.pool.park(up, idle)
}
