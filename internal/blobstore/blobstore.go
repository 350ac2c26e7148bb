// Package blobstore keeps recordings' files where every node can read them:
// a local folder (the default, today's recordings folder) or an
// S3-compatible bucket.
//
// It is a leaf: it imports nothing of jumpcast but internal/recording, so
// that recorder, store, the uploader and the readers can share it. Keys are
// never user strings: Key derives them from a recording id ValidID accepts
// and a file name that must belong to that id, so no request can name an
// object outside the recordings.
package blobstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/jumpcast/jumpcast/internal/recording"
)

// ErrNotExist is returned (wrapped) for a key the store does not hold.
var ErrNotExist = errors.New("blobstore: no such recording file")

// Info describes a stored file.
type Info struct {
	Key  string
	Size int64
	// SHA256 is the hex SHA-256 the file was put with ("" when the backend
	// did not record it, e.g. a file copied in by hand).
	SHA256 string
}

// Object is an open stored file, read at any offset: the S3 backend turns
// each ReadAt into one ranged GET, so a player reading chunks never
// downloads the whole object.
type Object interface {
	io.ReaderAt
	io.Closer
	Size() int64
}

// Store is where recordings' files live. Implementations are safe for
// concurrent use.
type Store interface {
	// Put stores size bytes from r under key, replacing what was there.
	// It fails unless exactly size bytes whose SHA-256 is sha256 (hex)
	// were stored; a failed Put leaves no partial object visible.
	Put(ctx context.Context, key string, r io.Reader, size int64, sha256 string) error
	// Open opens key for reading; ErrNotExist when absent.
	Open(ctx context.Context, key string) (Object, error)
	// Stat describes key; ErrNotExist when absent.
	Stat(ctx context.Context, key string) (Info, error)
	// Delete removes key; deleting an absent key is not an error.
	Delete(ctx context.Context, key string) error
	// List describes every file of recording id the store holds, by key.
	List(ctx context.Context, id string) ([]Info, error)
	// Name is how the store is shown to operators ("local /path",
	// "s3 bucket/prefix at endpoint"); it never contains credentials.
	Name() string
}

// Key returns the key of a recording's file: "YYYY/MM/DD/<name>", the date
// being the id's, as recording.RelPath lays out the spool. name must be the
// id itself followed by a suffix of lower-case letters, digits, '.', '-'
// and '_' (e.g. "<id>.cast", "<id>.cast.gz", "<id>.idx"); anything else —
// a slash, "..", another id — is refused.
func Key(id, name string) (string, error) {
	rel, err := recording.RelPath(id)
	if err != nil {
		return "", err
	}
	suffix, ok := strings.CutPrefix(name, id)
	if !ok || suffix == "" || suffix[0] != '.' || len(suffix) > 32 || strings.Contains(suffix, "..") {
		return "", fmt.Errorf("blobstore: %q is not a file of recording %s", name, id)
	}
	for _, c := range suffix {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_') {
			return "", fmt.Errorf("blobstore: %q is not a file of recording %s", name, id)
		}
	}
	return rel[:len("YYYY/MM/DD/")] + name, nil
}

// checkKey refuses a key Key cannot have made, so that a backend never
// touches a path or object outside the recordings.
func checkKey(key string) error {
	if len(key) < len("YYYY/MM/DD/") {
		return fmt.Errorf("blobstore: bad key %q", key)
	}
	name := key[len("YYYY/MM/DD/"):]
	if len(name) <= recording.IDLen {
		return fmt.Errorf("blobstore: bad key %q", key)
	}
	k, err := Key(name[:recording.IDLen], name)
	if err != nil || k != key {
		return fmt.Errorf("blobstore: bad key %q", key)
	}
	return nil
}
