package bastion

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path"
	"sync"
	"time"

	"github.com/jumpcast/jumpcast/config"
	"github.com/jumpcast/jumpcast/internal/audit"
	"github.com/jumpcast/jumpcast/internal/blobstore"
	"github.com/jumpcast/jumpcast/internal/metrics"
	"github.com/jumpcast/jumpcast/internal/recfiles"
	"github.com/jumpcast/jumpcast/internal/recording"
	"github.com/jumpcast/jumpcast/recorder"
	"github.com/jumpcast/jumpcast/recorder/castfile"
	"github.com/jumpcast/jumpcast/store"
)

// OpenBucket returns the bucket recording.s3 names, or nil with storage
// local. It makes no request.
func OpenBucket(cfg *config.Config) (*blobstore.S3, error) {
	if cfg.Recording.Storage != config.StorageS3 {
		return nil, nil
	}
	s := cfg.Recording.S3
	b, err := blobstore.NewS3(blobstore.S3Config{Endpoint: s.Endpoint, Insecure: s.Insecure, Bucket: s.Bucket,
		Region: s.Region, Prefix: s.Prefix, PathStyle: s.PathStyle, CAFile: s.CAFile, PartSize: uint64(s.PartSize)})
	if err != nil {
		return nil, fmt.Errorf("recording.s3: %w", err)
	}
	return b, nil
}

// NewFiles returns the one opener of dir's recordings and, with storage
// s3, the bucket's.
func NewFiles(dir *recorder.Dir, bucket *blobstore.S3) *recfiles.Files {
	f := &recfiles.Files{Dir: dir}
	if bucket != nil {
		f.Bucket = bucket
	}
	return f
}

// spool is storage s3 at work: the recordings folder is the node's spool;
// the streamer sends running sessions' recordings to the bucket as parts,
// the uploader moves closed ones there (checked, then the index told,
// then the spool copy removed).
type spool struct {
	local    *blobstore.Local
	bucket   *blobstore.S3
	up       *blobstore.Uploader
	stream   *blobstore.Streamer
	alert    int64
	log      *slog.Logger
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	st       store.Index
	sealWake chan struct{} // sealLost wakes sealLoop
	mu       sync.Mutex    // guards alerting and lost
	alerting bool
	lost     map[string]string // lost nodes' recordings to seal: id → Meta.Path
	// indexCmd is Options.IndexCommand: the sealer makes keyframes with it.
	indexCmd func(folder, rel string) *exec.Cmd
}

// uploadMaxBackoff bounds the wait between upload retries while the
// bucket fails: the spool starts draining at most this long after the
// bucket is back.
const uploadMaxBackoff = 15 * time.Second

// drainGrace is how long Close lets the uploader send what the last
// sessions left before it stops (the rest is sent at the next start).
const drainGrace = 10 * time.Second

// openSpool starts the streamer and the uploader over the recordings
// folder dir, and queues what an earlier run left in it. RecoverActive
// must have run: every recording it holds is closed.
func openSpool(cfg *config.Config, dir *recorder.Dir, dirPath string, bucket *blobstore.S3, st store.Index, sink audit.Sink,
	m *metrics.Metrics, log *slog.Logger, indexCmd func(folder, rel string) *exec.Cmd) (*spool, error) {
	sp := &spool{local: blobstore.NewLocal(dirPath), bucket: bucket, alert: int64(cfg.Recording.S3.SpoolAlert), log: log,
		st: st, sealWake: make(chan struct{}, 1), indexCmd: indexCmd}
	ctx, cancel := context.WithCancel(context.Background())
	sp.cancel = cancel
	if err := bucket.Check(ctx); err != nil {
		log.Error("recordings bucket not reachable at start: recordings wait in the spool", "bucket", bucket.Name(), "err", err)
	}
	sp.stream = &blobstore.Streamer{Spool: sp.local, Dest: bucket, Interval: cfg.Recording.S3.StreamInterval,
		PartSize: int64(cfg.Recording.S3.PartSize),
		Failed: func(key string, err error) {
			log.Error("running sessions' recordings cannot be streamed to the bucket: they wait in the spool",
				"bucket", bucket.Name(), "key", key, "err", err)
		},
		Recovered: func() { log.Info("recordings stream to the bucket again", "bucket", bucket.Name()) },
	}
	sp.up = &blobstore.Uploader{Spool: sp.local, Dest: bucket, Streamer: sp.stream, MaxBackoff: uploadMaxBackoff,
		Prepare: func(ctx context.Context, id string) error {
			if err := writeIndex(dir, id); err != nil {
				return err
			}
			if cfg.Recording.ArchiveBeforeUpload() {
				archiveBeforeUpload(ctx, st, dir, sink, log, id)
			}
			return nil
		},
		Uploaded: func(ctx context.Context, id string) error {
			return st.SetRecordingLocation(ctx, id, recording.LocationBucket)
		},
		Failed: func(id string, err error) {
			log.Error("recordings cannot be uploaded to the bucket: they wait in the spool",
				"bucket", bucket.Name(), "session_id", id, "err", err)
		},
		Recovered: func(id string) {
			log.Info("recordings upload to the bucket again", "bucket", bucket.Name(), "session_id", id)
		},
	}
	ids, err := sp.local.IDs()
	if err != nil {
		cancel()
		return nil, fmt.Errorf("read the spool: %w", err)
	}
	for _, id := range ids {
		sp.up.Enqueue(id)
	}
	if len(ids) > 0 {
		log.Info("recordings left in the spool are sent to the bucket", "count", len(ids), "bucket", bucket.Name())
	}
	m.RegisterSpool(metrics.Spool{Pending: sp.up.Pending, Bytes: sp.bytes, StreamLag: sp.stream.Lag})
	sp.wg.Add(4)
	go func() { defer sp.wg.Done(); sp.sealLoop(ctx) }()   // owner: the spool, until Close
	go func() { defer sp.wg.Done(); sp.up.Run(ctx) }()     // owner: the spool, until Close
	go func() { defer sp.wg.Done(); sp.stream.Run(ctx) }() // owner: the spool, until Close
	go func() { defer sp.wg.Done(); sp.watch(ctx) }()      // owner: the spool, until Close
	return sp, nil
}

// writeIndex writes the complete index of id's compressed recording
// before its upload, so that the bucket gets the index the background
// indexer would have left (it may not have run yet).
func writeIndex(dir *recorder.Dir, id string) error {
	rel, err := recording.RelPath(id)
	if err != nil {
		return err
	}
	gz := rel + ".gz"
	f, err := dir.Open(gz)
	if errors.Is(err, os.ErrNotExist) {
		return nil // raw, or already moved
	}
	if err != nil {
		return err
	}
	_ = f.Close()
	if castfile.Compressed(gz) {
		return dir.WriteIndex(gz)
	}
	return nil
}

// archiveBeforeUpload archives id's closed compressed recording in the
// spool (ArchiveRecording), so that the bucket keeps the smaller file. A
// recording that cannot be archived is logged and uploaded as it is: the
// upload must not wait on it.
func archiveBeforeUpload(ctx context.Context, st store.Index, dir *recorder.Dir, sink audit.Sink, log *slog.Logger, id string) {
	r, err := st.GetRecording(ctx, id)
	if err != nil || !castfile.Compressed(r.Path) || castfile.Archived(r.Path) {
		return
	}
	res, err := ArchiveRecording(ctx, st, dir, sink, *r)
	switch {
	case err != nil:
		log.Warn("recording not archived: uploaded as it is", "session_id", id, "err", err)
	case res.Done:
		log.Info("recording archived", "session_id", id, "bytes_before", res.WasSize, "bytes", res.Size, "path", res.Path)
	}
}

// bytes is the spool's size, for the metric and the probe.
func (sp *spool) bytes() int64 {
	_, n, _ := sp.local.Usage()
	return n
}

// Bytes reports the spool's size (the readiness probe's check).
func (sp *spool) Bytes() (int64, error) {
	_, n, err := sp.local.Usage()
	return n, err
}

// watch logs one warning when the spool grows past recording.s3.spool_alert
// and one line when it is back under.
func (sp *spool) watch(ctx context.Context) {
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n := sp.bytes()
		sp.mu.Lock()
		was := sp.alerting
		sp.alerting = sp.alert > 0 && n > sp.alert
		now := sp.alerting
		sp.mu.Unlock()
		switch {
		case now && !was:
			sp.log.Warn("recordings spool filling: uploads to the bucket lag", "spool_bytes", n, "alert_bytes", sp.alert,
				"pending_recordings", sp.up.Pending(), "bucket", sp.bucket.Name())
		case was && !now:
			sp.log.Info("recordings spool back under its alert", "spool_bytes", n)
		}
	}
}

// Close lets the uploader send what waits for up to drainGrace, then
// stops it and the streamer.
func (sp *spool) Close() {
	deadline := time.Now().Add(drainGrace)
	for sp.up.Pending() > 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	sp.cancel()
	sp.wg.Wait()
}

// spoolIndex tells the spool when recordings start (streamed from then
// on) and end (queued for their upload), around the index writes.
type spoolIndex struct {
	next recorder.Index
	sp   *spool
}

func (x spoolIndex) Started(ctx context.Context, m recording.Meta) error {
	if err := x.next.Started(ctx, m); err != nil {
		return err
	}
	if err := x.sp.stream.Start(m.ID, path.Base(m.Path)); err != nil {
		x.sp.log.Warn("recording not streamed", "session_id", m.ID, "err", err)
	}
	return nil
}

func (x spoolIndex) Finished(ctx context.Context, m recording.Meta) error {
	err := x.next.Finished(ctx, m)
	x.sp.stream.Stop(m.ID)
	x.sp.up.Enqueue(m.ID)
	return err
}
