package blobstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"github.com/jumpcast/jumpcast/internal/recording"
)

// Local is a Store in a folder: key "YYYY/MM/DD/name" is the file
// Dir/YYYY/MM/DD/name, the layout of the recordings folder.
type Local struct {
	Dir string
}

// NewLocal returns the store of folder dir.
func NewLocal(dir string) *Local { return &Local{Dir: dir} }

// Name implements Store.
func (l *Local) Name() string { return "local " + l.Dir }

func (l *Local) path(key string) (string, error) {
	if err := checkKey(key); err != nil {
		return "", err
	}
	return filepath.Join(l.Dir, filepath.FromSlash(key)), nil
}

// Put implements Store: it writes a temporary file beside the final one,
// syncs it and renames it into place.
func (l *Local) Put(ctx context.Context, key string, r io.Reader, size int64, sum string) error {
	p, err := l.path(key)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(p), ".put-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name()) // no-op after the rename
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), io.LimitReader(r, size+1))
	if err == nil {
		err = verify(key, n, hex.EncodeToString(h.Sum(nil)), size, sum)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Rename(f.Name(), p)
}

// verify checks what was sent against what was expected.
func verify(key string, n int64, got string, size int64, want string) error {
	if n != size {
		return fmt.Errorf("blobstore: %s: read %d bytes, want %d", key, n, size)
	}
	if want != "" && got != want {
		return fmt.Errorf("blobstore: %s: SHA-256 %s, want %s", key, got, want)
	}
	return nil
}

type localObject struct {
	*os.File
	size int64
}

func (o localObject) Size() int64 { return o.size }

// Open implements Store.
func (l *Local) Open(_ context.Context, key string) (Object, error) {
	p, err := l.path(key)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, notExist(key, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	return localObject{f, st.Size()}, nil
}

// Stat implements Store. A local file carries no recorded SHA-256.
func (l *Local) Stat(_ context.Context, key string) (Info, error) {
	p, err := l.path(key)
	if err != nil {
		return Info{}, err
	}
	st, err := os.Stat(p)
	if err != nil {
		return Info{}, notExist(key, err)
	}
	return Info{Key: key, Size: st.Size()}, nil
}

// Delete implements Store.
func (l *Local) Delete(_ context.Context, key string) error {
	p, err := l.path(key)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// List implements Store.
func (l *Local) List(ctx context.Context, id string) ([]Info, error) {
	names, err := l.Files(id)
	if err != nil {
		return nil, err
	}
	var out []Info
	for _, n := range names {
		key, _ := Key(id, n)
		if st, err := l.Stat(ctx, key); err == nil {
			out = append(out, st)
		}
	}
	return out, nil
}

// IDs returns the ids of the recordings that have a file in the folder,
// in order (what a restarted node's spool still holds).
func (l *Local) IDs() ([]string, error) {
	seen := map[string]bool{}
	err := filepath.WalkDir(l.Dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) {
				return nil
			}
			return err
		}
		if name := d.Name(); d.Type().IsRegular() && len(name) > recording.IDLen {
			id := name[:recording.IDLen]
			if _, err := Key(id, name); err == nil {
				seen[id] = true
			}
		}
		return nil
	})
	ids := make([]string, 0, len(seen))
	for id := range seen {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids, err
}

func notExist(key string, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w: %s", ErrNotExist, key)
	}
	return err
}
