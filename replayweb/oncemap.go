package replayweb

import (
	"sync"
	"time"
)

// maxOnce bounds each onceMap; past it, expired entries go first, then
// any (a flood of started ceremonies cannot grow memory without bound).
const maxOnce = 10000

// onceMap keeps values for ttl under random keys, each taken at most once:
// the server-side half of the browser flows (a single sign-on in progress,
// a TOTP secret offered, a passkey challenge, recovery codes to show).
type onceMap[T any] struct {
	ttl time.Duration
	now func() time.Time

	mu sync.Mutex // guards m
	m  map[string]onceEntry[T]
}

type onceEntry[T any] struct {
	v       T
	expires time.Time
}

func newOnceMap[T any](ttl time.Duration, now func() time.Time) *onceMap[T] {
	return &onceMap[T]{ttl: ttl, now: now, m: map[string]onceEntry[T]{}}
}

// put stores v under key for ttl, replacing what was there.
func (o *onceMap[T]) put(key string, v T) {
	now := o.now()
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.m) >= maxOnce {
		for k, e := range o.m {
			if !now.Before(e.expires) {
				delete(o.m, k)
			}
		}
	}
	for k := range o.m { // still full: drop any (map order is random)
		if len(o.m) < maxOnce {
			break
		}
		delete(o.m, k)
	}
	o.m[key] = onceEntry[T]{v: v, expires: now.Add(o.ttl)}
}

// take returns and forgets the value under key; false when there is none
// or it expired.
func (o *onceMap[T]) take(key string) (T, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	e, ok := o.m[key]
	delete(o.m, key)
	if !ok || !o.now().Before(e.expires) {
		var zero T
		return zero, false
	}
	return e.v, true
}
