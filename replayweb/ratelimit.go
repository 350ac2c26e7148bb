package replayweb

import (
	"sync"
	"time"
)

// Login rate limit: each client address gets a bucket of loginBurst attempts
// that refills one attempt every loginRefill. Five quick tries, then one
// every twelve seconds: a person who mistyped is not slowed, a password
// guesser gets 300 tries an hour per address.
const (
	loginBurst    = 5
	loginRefill   = 12 * time.Second
	maxLimitedIPs = 10000 // bounds the table; full buckets are dropped first
)

// limiter is a per-key token bucket. Keys are client IPs as the server's
// deliberate IPExtractor returns them, never a header a client chooses.
type limiter struct {
	burst  float64
	refill time.Duration
	now    func() time.Time

	mu sync.Mutex         // guards m
	m  map[string]*bucket // by key
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newLimiter(burst int, refill time.Duration, now func() time.Time) *limiter {
	return &limiter{burst: float64(burst), refill: refill, now: now, m: make(map[string]*bucket)}
}

// allow takes one token from key's bucket and reports whether there was one.
// When there was not, retry says how long until the next token.
func (l *limiter) allow(key string) (ok bool, retry time.Duration) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.m[key]
	if b == nil {
		if len(l.m) >= maxLimitedIPs {
			l.sweepLocked(now)
		}
		b = &bucket{tokens: l.burst, last: now}
		l.m[key] = b
	}
	b.tokens = min(l.burst, b.tokens+float64(now.Sub(b.last))/float64(l.refill))
	b.last = now
	if b.tokens < 1 {
		return false, time.Duration((1 - b.tokens) * float64(l.refill))
	}
	b.tokens--
	return true, 0
}

// sweepLocked drops buckets that have refilled completely; if that frees
// nothing, it drops everything (an address flood should not grow memory).
func (l *limiter) sweepLocked(now time.Time) {
	full := time.Duration(l.burst * float64(l.refill))
	for k, b := range l.m {
		if now.Sub(b.last) >= full {
			delete(l.m, k)
		}
	}
	if len(l.m) >= maxLimitedIPs {
		clear(l.m)
	}
}
