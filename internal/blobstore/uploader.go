package blobstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/jumpcast/jumpcast/internal/recording"
)

// Files returns the names of recording id's files in the folder (id's date
// folder, names Key accepts), sorted.
func (l *Local) Files(id string) ([]string, error) {
	rel, err := recording.RelPath(id)
	if err != nil {
		return nil, err
	}
	ents, err := os.ReadDir(filepath.Join(l.Dir, filepath.FromSlash(filepath.Dir(rel))))
	if err != nil && !os.IsNotExist(err) {
		return nil, err
	}
	var names []string
	for _, e := range ents {
		if e.Type().IsRegular() && strings.HasPrefix(e.Name(), id) {
			if _, err := Key(id, e.Name()); err == nil {
				names = append(names, e.Name())
			}
		}
	}
	sort.Strings(names)
	return names, nil
}

// Usage returns how many regular files and bytes the folder holds (what
// the spool still keeps, for `jumpcast status` and the metrics).
func (l *Local) Usage() (files int, bytes int64, err error) {
	err = filepath.WalkDir(l.Dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) {
				return nil
			}
			return err
		}
		if d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				files++
				bytes += fi.Size()
			}
		}
		return nil
	})
	return files, bytes, err
}

// Uploader moves closed recordings from the node's spool (a Local store,
// where the recorder writes) into the shared store. A recording's files are
// all put and checked (size and SHA-256) before Uploaded records the new
// location, and the spool copy is removed only after that: a crash at any
// point leaves either the spool copy or an index pointing at a complete
// object, and Enqueue of the same id again is harmless.
//
// While the shared store fails, the uploader retries with backoff
// (MinBackoff doubling up to MaxBackoff); sessions never wait for it.
type Uploader struct {
	Spool *Local
	Dest  Store
	// Uploaded records in the index that id's files are in Dest. Required.
	Uploaded func(ctx context.Context, id string) error
	// Failed is called once when uploads start failing (the first error
	// after a success, or ever); Recovered when one succeeds again. Both
	// optional (audit events).
	Failed    func(id string, err error)
	Recovered func(id string)
	// MinBackoff and MaxBackoff bound the wait before a retry; defaults 1s
	// and 1m.
	MinBackoff, MaxBackoff time.Duration
	// Prepare, optional, runs before id's files are read (the recording's
	// complete index written beside it).
	Prepare func(ctx context.Context, id string) error
	// Streamer, optional, is the one that sent id's parts while it was
	// recorded: Upload waits for a part still being sent, and removes the
	// parts once the closed files are in Dest.
	Streamer *Streamer

	mu      sync.Mutex
	queue   []string
	queued  map[string]bool
	wake    chan struct{}
	failing bool
}

// Enqueue asks for id's upload; an id already waiting is not added twice.
func (u *Uploader) Enqueue(id string) {
	if !recording.ValidID(id) {
		return
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	u.init()
	if u.queued[id] {
		return
	}
	u.queued[id] = true
	u.queue = append(u.queue, id)
	select {
	case u.wake <- struct{}{}:
	default:
	}
}

func (u *Uploader) init() {
	if u.queued == nil {
		u.queued = map[string]bool{}
		u.wake = make(chan struct{}, 1)
	}
}

// Pending returns how many recordings wait for their upload.
func (u *Uploader) Pending() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.queue)
}

// Run uploads queued recordings, one at a time in order, until ctx ends.
func (u *Uploader) Run(ctx context.Context) {
	u.mu.Lock()
	u.init()
	wake := u.wake
	u.mu.Unlock()
	minB, maxB := u.MinBackoff, u.MaxBackoff
	if minB <= 0 {
		minB = time.Second
	}
	if maxB < minB {
		maxB = max(minB, time.Minute)
	}
	backoff := minB
	for {
		u.mu.Lock()
		var id string
		if len(u.queue) > 0 {
			id = u.queue[0]
		}
		u.mu.Unlock()
		if id == "" {
			select {
			case <-ctx.Done():
				return
			case <-wake:
				continue
			}
		}
		err := u.Upload(ctx, id)
		if ctx.Err() != nil {
			return
		}
		u.mu.Lock()
		wasFailing := u.failing
		u.failing = err != nil
		if err == nil {
			u.queue = u.queue[1:]
			delete(u.queued, id)
		} else {
			// the failed one goes last, so one bad recording does not stall the rest
			u.queue = append(u.queue[1:], id)
		}
		u.mu.Unlock()
		if err == nil {
			backoff = minB
			if wasFailing && u.Recovered != nil {
				u.Recovered(id)
			}
			continue
		}
		if !wasFailing && u.Failed != nil {
			u.Failed(id, err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxB)
	}
}

// Upload moves id's spool files to Dest now (see Uploader). A recording
// with no file left in the spool was already moved: nothing to do.
func (u *Uploader) Upload(ctx context.Context, id string) error {
	if u.Streamer != nil {
		u.Streamer.Wait(id)
	}
	names, err := u.Spool.Files(id)
	if err != nil || len(names) == 0 {
		return err
	}
	if u.Prepare != nil {
		if err := u.Prepare(ctx, id); err != nil {
			return fmt.Errorf("recording %s: %w", id, err)
		}
		if names, err = u.Spool.Files(id); err != nil {
			return err
		}
	}
	for _, name := range names {
		if err := u.put(ctx, id, name); err != nil {
			return err
		}
	}
	if err := u.Uploaded(ctx, id); err != nil {
		return fmt.Errorf("recording %s uploaded, but the index was not updated: %w", id, err)
	}
	// The stream's parts go first, then the spool copy: a crash between
	// leaves the spool copy, which is sent again.
	if err := u.removeStale(ctx, id, names); err != nil {
		return err
	}
	for _, name := range names {
		key, _ := Key(id, name)
		if err := u.Spool.Delete(ctx, key); err != nil {
			return err
		}
	}
	return nil
}

// removeStale deletes id's objects in Dest other than names (the parts
// streamed while it was recorded).
func (u *Uploader) removeStale(ctx context.Context, id string, names []string) error {
	have, err := u.Dest.List(ctx, id)
	if err != nil {
		return err
	}
	keep := map[string]bool{}
	for _, name := range names {
		key, _ := Key(id, name)
		keep[key] = true
	}
	for _, in := range have {
		if !keep[in.Key] {
			if err := u.Dest.Delete(ctx, in.Key); err != nil {
				return err
			}
		}
	}
	return nil
}

func (u *Uploader) put(ctx context.Context, id, name string) error {
	key, err := Key(id, name)
	if err != nil {
		return err
	}
	f, err := u.Spool.Open(ctx, key)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = PutChecked(ctx, u.Dest, key, f, f.Size())
	return err
}

// PutChecked puts the size bytes of r under key in dest with their
// SHA-256, then checks that dest holds that size (and SHA-256, when it
// records one), and returns the hex SHA-256.
func PutChecked(ctx context.Context, dest Store, key string, r io.ReaderAt, size int64) (string, error) {
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(r, 0, size)); err != nil {
		return "", err
	}
	sum := hex.EncodeToString(h.Sum(nil))
	if err := dest.Put(ctx, key, io.NewSectionReader(r, 0, size), size, sum); err != nil {
		return "", err
	}
	info, err := dest.Stat(ctx, key)
	if err != nil {
		return "", err
	}
	if info.Size != size || (info.SHA256 != "" && info.SHA256 != sum) {
		return "", fmt.Errorf("%s: %s stored as %d bytes sha256 %q, sent %d bytes sha256 %s",
			dest.Name(), key, info.Size, info.SHA256, size, sum)
	}
	return sum, nil
}
