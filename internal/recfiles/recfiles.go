// Package recfiles opens, checks and removes recordings' files wherever
// they are: this node's recordings folder (recorder.Dir; with storage s3
// it is the node's spool) or the shared bucket (blobstore.Store), where a
// recording is either its closed files, put by the uploader, or — while it
// is recorded, or when its node was lost — the parts the streamer sent.
// Every reader (web playback and download, recordings verify, grep, play)
// and retention go through one Files, so that a recording made on any
// node reads the same on every node.
package recfiles

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"

	"github.com/jumpcast/jumpcast/internal/blobstore"
	"github.com/jumpcast/jumpcast/internal/recording"
	"github.com/jumpcast/jumpcast/recorder"
	"github.com/jumpcast/jumpcast/recorder/castfile"
)

// Files is where recordings' files are. It satisfies castfile.Opener and
// replayweb.CastOpener. Safe for concurrent use.
type Files struct {
	// Dir is this node's recordings folder. Required.
	Dir *recorder.Dir
	// Bucket is the shared store; nil with storage local (then Files is
	// Dir alone).
	Bucket blobstore.Store
	// Ctx bounds the bucket requests of files opened through Files
	// (cancelled when the program stops); nil means context.Background.
	Ctx context.Context
}

func (x *Files) ctx() context.Context {
	if x.Ctx != nil {
		return x.Ctx
	}
	return context.Background()
}

// Open opens the recording file rel (recording.Meta.Path, or the index
// beside it): from this node's folder when it is there, else from the
// bucket — the closed file, or for a recording still being recorded on
// another node (or whose node was lost) the data its parts hold. A path
// that is not a recording's is refused; a file that is nowhere is an
// error wrapping fs.ErrNotExist.
func (x *Files) Open(rel string) (castfile.File, error) {
	f, err := x.Dir.Open(rel)
	if err == nil {
		return f, nil
	}
	if x.Bucket == nil || !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	id, name, err := split(rel)
	if err != nil {
		return nil, err
	}
	obj, err := x.Bucket.Open(x.ctx(), rel)
	if err == nil {
		return newFile(obj, name), nil
	}
	if !errors.Is(err, blobstore.ErrNotExist) {
		return nil, fmt.Errorf("open recording %s: %w", rel, err)
	}
	if castfile.Compressed(rel) {
		parts, perr := blobstore.Parts(x.ctx(), x.Bucket, id, name)
		if perr != nil {
			return nil, fmt.Errorf("open recording %s: %w", rel, perr)
		}
		if len(parts) > 0 {
			return newFile(&partsObject{ctx: x.ctx(), bucket: x.Bucket, parts: parts}, name), nil
		}
	}
	return nil, fmt.Errorf("open recording %s: not in this node's folder nor in %s: %w", rel, x.Bucket.Name(), fs.ErrNotExist)
}

// split returns the recording id and file name of rel, refusing a path
// that blobstore.Key would not make.
func split(rel string) (id, name string, err error) {
	name = path.Base(rel)
	if len(name) <= recording.IDLen {
		return "", "", fmt.Errorf("%q is not a recording file", rel)
	}
	id = name[:recording.IDLen]
	if key, err := blobstore.Key(id, name); err != nil || key != rel {
		return "", "", fmt.Errorf("%q is not a recording file", rel)
	}
	return id, name, nil
}

// Check re-hashes the recording file rel, wherever it is, against the
// SHA-256 its index row holds (recorder.Dir.Check's contract).
func (x *Files) Check(rel, expected string, active bool) recorder.Check {
	return recorder.CheckFile(x, rel, expected, active)
}

// Remove deletes recording rel's files: this node's copy (and the index
// beside it) and, with a bucket, every object of the recording there
// (closed files and parts). Files already gone are not an error.
func (x *Files) Remove(ctx context.Context, rel string) error {
	if err := x.Dir.Remove(rel); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if x.Bucket == nil {
		return nil
	}
	id, _, err := split(rel)
	if err != nil {
		return err
	}
	objs, err := x.Bucket.List(ctx, id)
	if err != nil {
		return fmt.Errorf("remove recording %s: %w", rel, err)
	}
	for _, o := range objs {
		if err := x.Bucket.Delete(ctx, o.Key); err != nil {
			return fmt.Errorf("remove recording %s: %w", rel, err)
		}
	}
	return nil
}
