package blobstore

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// partSuffix names a stream part: "<name>.part-<offset, 12 hex digits>".
const partSuffix = ".part-"

// PartName is the file name of the part of file name that starts at byte
// off.
func PartName(name string, off int64) string {
	return fmt.Sprintf("%s%s%012x", name, partSuffix, off)
}

// Part is one stream part of a file in a Store.
type Part struct {
	Key       string
	Off, Size int64
}

// Parts returns the stream parts of recording id's file name that dest
// holds, in order, as far as they follow each other from byte 0 (a gap
// ends them: what follows it cannot be read). Their concatenation is the
// file as it was when its last part was sent.
func Parts(ctx context.Context, dest Store, id, name string) ([]Part, error) {
	infos, err := dest.List(ctx, id)
	if err != nil {
		return nil, err
	}
	base := name + partSuffix
	var parts []Part
	for _, in := range infos {
		i := strings.LastIndex(in.Key, "/")
		hexOff, ok := strings.CutPrefix(in.Key[i+1:], base)
		if !ok {
			continue
		}
		off, err := strconv.ParseInt(hexOff, 16, 64)
		if err != nil || in.Size <= 0 {
			continue
		}
		parts = append(parts, Part{Key: in.Key, Off: off, Size: in.Size})
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i].Off < parts[j].Off })
	var out []Part
	next := int64(0)
	for _, p := range parts {
		if p.Off != next {
			break
		}
		out = append(out, p)
		next += p.Size
	}
	return out, nil
}

// CopyParts writes to w the concatenation of recording id's file name as
// its stream parts in dest hold it (the spool file as it was when its last
// part was sent) and returns how many bytes it wrote and the parts it
// read. It fails when there is no part, or when a part does not follow
// the one before (a gap, or an overlap): then part of the file is missing
// and nothing should replace the parts.
func CopyParts(ctx context.Context, dest Store, id, name string, w io.Writer) (int64, []Part, error) {
	whole, err := Parts(ctx, dest, id, name)
	if err != nil {
		return 0, nil, err
	}
	infos, err := dest.List(ctx, id)
	if err != nil {
		return 0, nil, err
	}
	all := 0
	for _, in := range infos {
		if strings.Contains(in.Key[strings.LastIndex(in.Key, "/")+1:], name+partSuffix) {
			all++
		}
	}
	if len(whole) == 0 {
		return 0, nil, fmt.Errorf("%s: no stream part of %s: %w", dest.Name(), name, ErrNotExist)
	}
	if all != len(whole) {
		return 0, nil, fmt.Errorf("%s: %d of the %d stream parts of %s follow each other from byte 0: a part is missing",
			dest.Name(), len(whole), all, name)
	}
	n := int64(0)
	for _, p := range whole {
		obj, err := dest.Open(ctx, p.Key)
		if err != nil {
			return n, nil, err
		}
		m, err := io.Copy(w, io.NewSectionReader(obj, 0, p.Size))
		_ = obj.Close()
		n += m
		if err != nil {
			return n, nil, fmt.Errorf("%s: read %s: %w", dest.Name(), p.Key, err)
		}
		if m != p.Size {
			return n, nil, fmt.Errorf("%s: %s has %d bytes, listed with %d", dest.Name(), p.Key, m, p.Size)
		}
	}
	return n, whole, nil
}

// Streamer sends the recordings being written to Dest while their
// sessions run, so that a node lost for good loses at most a bounded
// window of each. Every file it streams is checked each Tick: when
// PartSize new bytes wait, or Interval passed since the last part and any
// new byte waits, the bytes past what was sent go up as one object, the
// part PartName(name, offset). A lost node's recording is then read from
// its parts (Parts); the Uploader replaces them by the closed file and
// removes them.
//
// Sessions never wait for it: a part that fails is sent again (with the
// bytes added meanwhile) at a later tick; the spool keeps everything.
type Streamer struct {
	Spool *Local
	Dest  Store
	// Interval bounds the age of the oldest byte not yet sent (while the
	// bucket answers); default 5s. PartSize sends earlier once that many
	// bytes wait; default 5 MiB.
	Interval time.Duration
	PartSize int64
	// Tick is how often files are checked; default 250ms.
	Tick time.Duration
	// Failed and Recovered are called once when parts start failing and
	// when one succeeds again; optional.
	Failed    func(key string, err error)
	Recovered func()

	mu      sync.Mutex // guards streams, stopped and failing
	streams map[string]*stream
	stopped map[string]*stream // stopped, until Wait
	failing bool
}

type stream struct {
	key  string // the data file's key
	id   string
	name string
	mu   sync.Mutex // held while a part of this file is sent
	sent int64      // bytes of the file in parts so far
	last time.Time  // when the last part was sent (or the stream began)
	// oldest is when bytes past sent were first seen waiting; zero when none.
	oldest time.Time
}

// Start streams recording id's spool file name (e.g. "<id>.cast.gz")
// from now on.
func (s *Streamer) Start(id, name string) error {
	key, err := Key(id, name)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.streams == nil {
		s.streams = map[string]*stream{}
	}
	s.streams[id] = &stream{key: key, id: id, name: name, last: time.Now()}
	return nil
}

// Stop ends the stream of id (its recording closed; the Uploader takes
// over). It does not wait for a part being sent: Wait does.
func (s *Streamer) Stop(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st, ok := s.streams[id]; ok {
		delete(s.streams, id)
		if s.stopped == nil {
			s.stopped = map[string]*stream{}
		}
		s.stopped[id] = st
	}
}

// Wait returns, after Stop(id), once no part of id is being sent: no part
// of id appears after it.
func (s *Streamer) Wait(id string) {
	s.mu.Lock()
	st := s.stopped[id]
	delete(s.stopped, id)
	s.mu.Unlock()
	if st != nil {
		st.mu.Lock()
		_ = st.sent // the sender, if any, is done
		st.mu.Unlock()
	}
}

// Lag returns how many bytes of the streamed files are not in the bucket
// yet, and for how long the oldest of them has waited.
func (s *Streamer) Lag() (bytes int64, oldest time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	for _, st := range s.streams {
		if info, err := s.Spool.Stat(context.Background(), st.key); err == nil && info.Size > st.sent {
			bytes += info.Size - st.sent
			if !st.oldest.IsZero() {
				oldest = max(oldest, now.Sub(st.oldest))
			}
		}
	}
	return bytes, oldest
}

// Run checks the streamed files every Tick until ctx ends.
func (s *Streamer) Run(ctx context.Context) {
	tick := s.Tick
	if tick <= 0 {
		tick = 250 * time.Millisecond
	}
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.mu.Lock()
		list := make([]*stream, 0, len(s.streams))
		for _, st := range s.streams {
			list = append(list, st)
		}
		s.mu.Unlock()
		sort.Slice(list, func(i, j int) bool { return list[i].key < list[j].key })
		for _, st := range list {
			if ctx.Err() != nil {
				return
			}
			s.check(ctx, st)
		}
	}
}

// check sends st's new bytes if they are due.
func (s *Streamer) check(ctx context.Context, st *stream) {
	interval, partSize := s.Interval, s.PartSize
	if interval <= 0 {
		interval = 5 * time.Second
	}
	if partSize <= 0 {
		partSize = 5 << 20
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	s.mu.Lock()
	live := s.streams[st.id] == st
	s.mu.Unlock()
	if !live {
		return // stopped meanwhile: the uploader owns the file now
	}
	f, err := s.Spool.Open(ctx, st.key)
	if err != nil {
		return // not created yet, or already moved
	}
	defer f.Close()
	size := f.Size()
	now := time.Now()
	if size <= st.sent {
		return
	}
	if st.oldest.IsZero() {
		st.oldest = now
	}
	if size-st.sent < partSize && now.Sub(st.last) < interval {
		return
	}
	n := size - st.sent
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	key, _ := Key(st.id, PartName(st.name, st.sent))
	err = s.Dest.Put(pctx, key, io.NewSectionReader(f, st.sent, n), n, "")
	s.report(key, err)
	if err != nil {
		return
	}
	st.sent += n
	st.last, st.oldest = now, time.Time{}
}

func (s *Streamer) report(key string, err error) {
	s.mu.Lock()
	was := s.failing
	s.failing = err != nil
	s.mu.Unlock()
	switch {
	case err != nil && !was && s.Failed != nil:
		s.Failed(key, err)
	case err == nil && was && s.Recovered != nil:
		s.Recovered()
	}
}
