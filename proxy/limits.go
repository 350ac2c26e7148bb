package proxy

import (
	"net"
	"sync"
	"time"
)

// limiter enforces the abuse limits on incoming connections: a cap on
// concurrent unauthenticated connections and a per-source-IP budget of
// failed authentications within a sliding window.
//
// mu guards every field; the methods are safe for concurrent use.
type limiter struct {
	now func() time.Time

	mu       sync.Mutex
	unauth   int                    // connections admitted and not yet authenticated
	unauthBy map[string]int         // the same, per source IP
	failures map[string][]time.Time // source IP → times of recent failed authentications
}

func newLimiter(now func() time.Time) *limiter {
	return &limiter{now: now, failures: map[string][]time.Time{}, unauthBy: map[string]int{}}
}

// admit decides whether a new connection from ip may start its handshake.
// On success the caller owns one unauthenticated slot and must give it back
// with release exactly once. The reason is for the log.
func (l *limiter) admit(ip string, maxUnauth, maxFailures int, window time.Duration) (ok bool, reason string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if n := len(l.recent(ip, window)); maxFailures > 0 && n >= maxFailures {
		return false, "too many failed authentications"
	}
	if l.unauth >= maxUnauth {
		return false, "too many unauthenticated connections"
	}
	if l.unauthBy[ip] >= perSourceShare(maxUnauth) {
		return false, "too many unauthenticated connections from this address"
	}
	l.unauth++
	l.unauthBy[ip]++
	return true, ""
}

// perSourceShare is how many of the unauthenticated slots one source IP
// may hold: all but a quarter (at least one), so that one address opening
// connections that never finish the handshake cannot lock every other admin
// out, while a burst of parallel logins from one automation host (up to 48
// handshakes at once with the default cap of 64) still gets through.
// OpenSSH's PerSourceMaxStartups plays the same part.
func perSourceShare(maxUnauth int) int {
	return max(1, maxUnauth-maxUnauth/4)
}

// release gives back ip's unauthenticated slot.
func (l *limiter) release(ip string) {
	l.mu.Lock()
	l.unauth--
	if l.unauthBy[ip]--; l.unauthBy[ip] <= 0 {
		delete(l.unauthBy, ip)
	}
	l.mu.Unlock()
}

// fail records one failed authentication from ip.
func (l *limiter) fail(ip string, window time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.failures[ip] = append(l.recent(ip, window), l.now())
	// Forget idle addresses so the map does not grow without bound.
	if len(l.failures) > 4096 {
		for k := range l.failures {
			if len(l.recent(k, window)) == 0 {
				delete(l.failures, k)
			}
		}
	}
}

// recent returns ip's failures inside the window, pruning older ones.
// l.mu must be held.
func (l *limiter) recent(ip string, window time.Duration) []time.Time {
	ts := l.failures[ip]
	cut := l.now().Add(-window)
	i := 0
	for i < len(ts) && !ts[i].After(cut) {
		i++
	}
	if i == len(ts) {
		delete(l.failures, ip)
		return nil
	}
	ts = ts[i:]
	l.failures[ip] = ts
	return ts
}

// hostOf returns the IP part of a net.Addr ("192.0.2.1" from
// "192.0.2.1:5555"), or its whole string.
func hostOf(a net.Addr) string {
	if a == nil {
		return ""
	}
	if h, _, err := net.SplitHostPort(a.String()); err == nil {
		return h
	}
	return a.String()
}

// guardedConn is the admin's TCP connection as the SSH layer sees it. It
// holds the handshake timer and the unauthenticated slot until
// authentication succeeds, and tells its owner when it closes.
type guardedConn struct {
	net.Conn
	timer   *time.Timer // closes the connection when the handshake takes too long
	once    sync.Once   // runs onClose once
	authMu  sync.Mutex  // guards authed
	authed  bool
	release func()     // gives back the unauthenticated slot
	onClose func(bool) // called once with whether authentication succeeded
}

// authenticated stops the handshake timer and gives back the
// unauthenticated slot. It is idempotent.
func (c *guardedConn) authenticated() {
	c.authMu.Lock()
	defer c.authMu.Unlock()
	if c.authed {
		return
	}
	c.authed = true
	c.timer.Stop()
	c.release()
}

// Close closes the connection and, the first time, releases what the
// connection held.
func (c *guardedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.timer.Stop()
		c.authMu.Lock()
		authed := c.authed
		if !authed {
			c.authed = true // the slot is given back here, not again
			c.release()
		}
		c.authMu.Unlock()
		c.onClose(authed)
	})
	return err
}
