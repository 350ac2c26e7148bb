package recorder

import (
	"log/slog"
	"sync"

	"github.com/jumpcast/jumpcast/recorder/castfile"
)

// keyframeQueue is how many closed recordings may wait for their index.
const keyframeQueue = 256

// keyframes is the process's one background indexer.
var keyframes = &keyframer{}

// keyframer makes the index (keyframes included) of closed compressed
// recordings, one at a time for the whole process, off every session's
// path: a session's writer only appends compressed chunks, and Close
// only queues the recording here, never waiting. A full queue drops the
// job (logged once): the recording's readers then complete its index
// from the data on open. One worker, hence one emulator without
// scrollback at a time: the memory keyframes take is bounded whatever the
// number of sessions. The worker exits when the queue is empty.
type keyframer struct {
	mu      sync.Mutex
	jobs    []keyframeJob
	running bool
	dropped bool
}

type keyframeJob struct {
	dir *Dir
	rel string
	log *slog.Logger
}

// QueueKeyframes queues for the background indexer the closed compressed
// recordings among rels (paths in d) whose index lacks keyframes — those
// closed while the queue was full, before a restart, or repaired after a
// crash — and returns how many it queued. It stops when the queue is
// full: the rest wait for the next start, and their readers make
// keyframes on demand meanwhile. It reads only the end of each index and
// never waits for the indexing. full reports that the queue is full.
func QueueKeyframes(d *Dir, rels []string, log *slog.Logger) (queued int, full bool) {
	for _, rel := range rels {
		if !castfile.Compressed(rel) || castfile.Indexed(d.Files(), rel) {
			continue
		}
		if _, err := d.root.Lstat(rel); err != nil { // not in this folder (moved to the bucket)
			continue
		}
		if !keyframes.add(keyframeJob{dir: d, rel: rel, log: log}) {
			return queued, true
		}
		queued++
	}
	return queued, false
}

// add queues the recording rel of dir for indexing without waiting, and
// reports whether it could.
func (k *keyframer) add(j keyframeJob) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.jobs) >= keyframeQueue {
		if !k.dropped {
			k.dropped = true
			j.log.Warn("keyframe queue full: recordings left for their readers to index", "path", j.rel)
		}
		return false
	}
	k.jobs = append(k.jobs, j)
	if !k.running {
		k.running = true
		go k.run() // owner: k, until the queue is empty
	}
	return true
}

func (k *keyframer) run() {
	for {
		k.mu.Lock()
		if len(k.jobs) == 0 {
			k.running = false
			k.mu.Unlock()
			return
		}
		j := k.jobs[0]
		k.jobs = k.jobs[1:]
		k.mu.Unlock()
		if err := j.dir.WriteIndex(j.rel); err != nil {
			j.log.Warn("recording index not written", "path", j.rel, "err", err)
		}
	}
}
