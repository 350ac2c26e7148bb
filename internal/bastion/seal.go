package bastion

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"time"

	"github.com/jumpcast/jumpcast/internal/blobstore"
	"github.com/jumpcast/jumpcast/internal/recording"
	"github.com/jumpcast/jumpcast/recorder"
	"github.com/jumpcast/jumpcast/recorder/castfile"
	"github.com/jumpcast/jumpcast/store"
)

// sealRetry is how long the sealer waits before it tries again a lost
// node's recording it could not seal (the bucket or the index failing).
const sealRetry = 5 * time.Second

// sealLost asks for the recording r of a lost node, which this node's
// keeper just marked interrupted (store.InterruptSilentNode returns each
// row to one node only), to be sealed: its stream parts become the one
// closed object, with its index and SHA-256 (see seal).
func (sp *spool) sealLost(r recording.Meta) {
	sp.mu.Lock()
	if sp.lost == nil {
		sp.lost = map[string]string{}
	}
	sp.lost[r.ID] = r.Path
	sp.mu.Unlock()
	select {
	case sp.sealWake <- struct{}{}:
	default:
	}
}

// sealLoop seals the recordings sealLost queued, retrying failures every
// sealRetry, until ctx ends. What is still queued then is left as parts
// (readable; another run does not retry it).
func (sp *spool) sealLoop(ctx context.Context) {
	t := time.NewTicker(sealRetry)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-sp.sealWake:
		case <-t.C:
		}
		sp.mu.Lock()
		todo := make(map[string]string, len(sp.lost))
		for id, rel := range sp.lost {
			todo[id] = rel
		}
		sp.mu.Unlock()
		for id, rel := range todo {
			if ctx.Err() != nil {
				return
			}
			err := sp.seal(ctx, id, rel)
			if err != nil {
				sp.log.Error("recording of a lost node not sealed from its parts yet", "session_id", id, "err", err)
				continue
			}
			sp.mu.Lock()
			delete(sp.lost, id)
			sp.mu.Unlock()
		}
	}
}

// seal turns the stream parts a lost node left of recording id (file rel)
// into the closed object the uploader would have put: the parts are
// joined in offset order (a missing part is an error: nothing replaces
// them), the member the loss cut is made whole and the index written as
// the owner's own recovery does (castfile.Repair), then with its keyframes
// as the owner's uploader would have (recorder.Dir.WriteIndex), both files are put and
// checked, the row gets their size, SHA-256 and location bucket
// (store.SealSilentRecording), and only then are the parts deleted. A row
// no longer sealable (the owner came back and repaired it from its
// longer spool copy, which its uploader then puts over ours) is left to
// the owner. A nil error means done: sealed, or nothing to seal.
func (sp *spool) seal(ctx context.Context, id, rel string) error {
	row, err := sp.st.GetRecording(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if !store.Sealable(row) {
		return nil
	}
	tmp, err := os.MkdirTemp("", "jumpcast-seal-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(tmp) }()
	// The files are laid out as in a recordings folder, so that the
	// keyframes are made as for this node's own recordings
	// (recorder.Dir.WriteIndex: in the index child when there is one).
	tdir, err := recorder.OpenDir(tmp)
	if err != nil {
		return err
	}
	defer func() { _ = tdir.Close() }()
	if sp.indexCmd != nil {
		tdir.IndexInChild(func(rel string) *exec.Cmd { return sp.indexCmd(tmp, rel) })
	}
	stop := context.AfterFunc(ctx, func() { _ = tdir.Close() }) // kills the child
	defer stop()
	dataPath := filepath.Join(tmp, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(dataPath), 0o700); err != nil {
		return err
	}
	data, err := os.OpenFile(dataPath, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	defer func() { _ = data.Close() }()
	_, parts, err := blobstore.CopyParts(ctx, sp.bucket, id, path.Base(rel), data)
	if errors.Is(err, blobstore.ErrNotExist) {
		sp.log.Warn("recording of a lost node has no stream part in the bucket: nothing to seal", "session_id", id)
		return nil
	}
	if err != nil {
		return err
	}
	files := []*os.File{data}
	if castfile.Compressed(rel) {
		idxPath := filepath.Join(tmp, filepath.FromSlash(castfile.IndexPath(rel)))
		idx, err := os.OpenFile(idxPath, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return err
		}
		err = castfile.Repair(data, idx)
		_ = idx.Close()
		if err != nil {
			return err
		}
		// Repair leaves an index without keyframes; the bucket gets the
		// whole index, as from the uploader. Without it the recording
		// still plays, its screens made on demand.
		if err := tdir.WriteIndex(rel); err != nil {
			sp.log.Warn("keyframes of a lost node's recording not made: sealed without them", "session_id", id, "err", err)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if idx, err = os.Open(idxPath); err != nil { // WriteIndex renamed a new file over it
			return err
		}
		defer func() { _ = idx.Close() }()
		files = append(files, idx)
	}
	// The index first: once the data is there, readers use both.
	var sum string
	var size int64
	for i := len(files) - 1; i >= 0; i-- {
		if sum, size, err = putSpoolFile(ctx, sp.bucket, id, files[i]); err != nil {
			return err
		}
	}
	ok, err := sp.st.SealSilentRecording(ctx, id, size, sum, recording.LocationBucket)
	if err != nil {
		return err
	}
	if !ok {
		sp.log.Warn("recording of a lost node repaired by its owner while it was sealed: the owner's copy stands", "session_id", id)
		return nil
	}
	for _, p := range parts {
		if err := sp.bucket.Delete(ctx, p.Key); err != nil {
			return fmt.Errorf("sealed, but its parts not removed: %w", err)
		}
	}
	sp.log.Info("recording of a lost node sealed from its stream parts", "session_id", id, "file_size", size, "sha256", sum)
	return nil
}

// putSpoolFile puts f, a file of recording id named as in the bucket,
// checked (blobstore.PutChecked), and returns its SHA-256 and size.
func putSpoolFile(ctx context.Context, bucket blobstore.Store, id string, f *os.File) (string, int64, error) {
	key, err := blobstore.Key(id, filepath.Base(f.Name()))
	if err != nil {
		return "", 0, err
	}
	st, err := f.Stat()
	if err != nil {
		return "", 0, err
	}
	sum, err := blobstore.PutChecked(ctx, bucket, key, f, st.Size())
	return sum, st.Size(), err
}
