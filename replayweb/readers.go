package replayweb

import (
	"fmt"
	"os"
	"sync"

	"github.com/jumpcast/jumpcast/recorder/castfile"
)

// maxOpenReaders bounds the finished recordings whose castfile.Reader the
// site keeps open between requests. A Reader holds its recording's index
// (chunk offsets and keyframes: tens of MB for gigabytes of output), which
// Open reads whole, so without it every chunk a player asks for would read
// the whole index again. A handful covers the recordings being watched at
// once on an audit site; past it the least recently used is closed.
const maxOpenReaders = 4

// readerCache keeps castfile Readers of finished recordings open, keyed by
// their path, shared by concurrent requests (a Reader is safe for
// concurrent use). A cached Reader is used only while its path still opens
// the same file: a recording purged, replaced or compacted since is opened
// anew or not at all. Kept Readers stay open until evicted (or the process
// ends): at most maxOpenReaders files.
type readerCache struct {
	mu   sync.Mutex // guards m and tick
	m    map[string]*cachedReader
	tick uint64 // a use counter, for least-recently-used eviction
}

type cachedReader struct {
	r    *castfile.Reader
	info os.FileInfo // the file it was opened from
	used uint64
	refs int  // requests using r now
	gone bool // evicted: the last release closes r
}

// get returns rel's Reader and the func that releases it. Readers of
// files being written (active) are not kept: they are opened for the
// request alone.
func (c *readerCache) get(o castfile.Opener, rel string, active bool) (*castfile.Reader, func(), error) {
	if active {
		r, err := castfile.Open(o, rel)
		if err != nil {
			return nil, nil, err
		}
		return r, func() { _ = r.Close() }, nil
	}
	info, err := statThrough(o, rel)
	if err != nil {
		return nil, nil, err
	}
	c.mu.Lock()
	if e, ok := c.m[rel]; ok && sameFile(e.info, info) && e.info.Size() == info.Size() && e.info.ModTime().Equal(info.ModTime()) {
		e.refs++
		c.tick++
		e.used = c.tick
		c.mu.Unlock()
		return e.r, c.releaser(e), nil
	}
	c.mu.Unlock()

	r, err := castfile.Open(o, rel)
	if err != nil {
		return nil, nil, err
	}
	e := &cachedReader{r: r, info: info, refs: 1}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[string]*cachedReader)
	}
	if old, ok := c.m[rel]; ok {
		c.dropLocked(rel, old)
	}
	for len(c.m) >= maxOpenReaders {
		var lru string
		for k, v := range c.m {
			if lru == "" || v.used < c.m[lru].used {
				lru = k
			}
		}
		c.dropLocked(lru, c.m[lru])
	}
	c.tick++
	e.used = c.tick
	c.m[rel] = e
	return r, c.releaser(e), nil
}

func (c *readerCache) releaser(e *cachedReader) func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			c.mu.Lock()
			defer c.mu.Unlock()
			e.refs--
			if e.gone && e.refs == 0 {
				_ = e.r.Close()
			}
		})
	}
}

// dropLocked removes e from the cache; it is closed now or by its last
// user's release.
func (c *readerCache) dropLocked(rel string, e *cachedReader) {
	delete(c.m, rel)
	e.gone = true
	if e.refs == 0 {
		_ = e.r.Close()
	}
}

// sameFile reports whether a and b describe the same file: os.SameFile
// for files of this node's folder; for objects in the bucket (no Sys:
// written once, never changed), the same name.
func sameFile(a, b os.FileInfo) bool {
	if a.Sys() == nil && b.Sys() == nil {
		return a.Name() == b.Name()
	}
	return os.SameFile(a, b)
}

// statThrough opens rel through o (so the opener's confinement to the
// recordings folder applies) and returns what it is.
func statThrough(o castfile.Opener, rel string) (os.FileInfo, error) {
	f, err := o.Open(rel)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	info, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat %s: %w", rel, err)
	}
	return info, nil
}
