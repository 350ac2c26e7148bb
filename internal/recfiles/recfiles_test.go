package recfiles_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jumpcast/jumpcast/internal/blobstore"
	"github.com/jumpcast/jumpcast/internal/recfiles"
	"github.com/jumpcast/jumpcast/internal/recording"
	"github.com/jumpcast/jumpcast/internal/s3test"
	"github.com/jumpcast/jumpcast/recorder"
	"github.com/jumpcast/jumpcast/recorder/asciicast"
	"github.com/jumpcast/jumpcast/recorder/castfile"
)

// compressedCast is a recording in the compressed format: the header
// member, then one member per event line.
func compressedCast(t *testing.T, lines ...string) []byte {
	t.Helper()
	var out bytes.Buffer
	for _, l := range append([]string{`{"version":2,"width":80,"height":24}`}, lines...) {
		z := gzip.NewWriter(&out)
		if _, err := z.Write([]byte(l + "\n")); err != nil {
			t.Fatal(err)
		}
		if err := z.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return out.Bytes()
}

func plain(t *testing.T, f *recfiles.Files, rel string) string {
	t.Helper()
	rc, err := castfile.OpenPlain(f, rel)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = rc.Close() }()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestFilesWhereverTheyAre: a recording is read from its stream parts
// while only they exist, from the closed object once uploaded (ranged
// reads, verified against the index's hash), from this node's folder
// when it is there; Remove deletes every copy; paths that are not a
// recording's are refused.
func TestFilesWhereverTheyAre(t *testing.T) {
	srv := s3test.Start(t)
	bucket, err := blobstore.NewS3(blobstore.S3Config{Endpoint: srv.Endpoint, Insecure: true, Bucket: srv.Bucket,
		AccessKey: srv.AccessKey, SecretKey: srv.SecretKey, PathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	spool := t.TempDir()
	dir, err := recorder.OpenDir(spool)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = dir.Close() }()
	files := &recfiles.Files{Dir: dir, Bucket: bucket}
	ctx := context.Background()

	id := recording.NewID(time.Now())
	raw, _ := recording.RelPath(id)
	rel, name := raw+".gz", id+".cast.gz"
	data := compressedCast(t, `[0.1,"o","hello\r\n"]`, `[0.2,"o","world\r\n"]`)
	if _, err := files.Open(rel); err == nil || !strings.Contains(err.Error(), "not in this node's folder") {
		t.Errorf("open of a recording that is nowhere: %v", err)
	}

	cut := len(data) - 7 // the second part ends inside the last member, as a crash leaves it
	for _, p := range [][2]int{{0, 20}, {20, cut}} {
		key, _ := blobstore.Key(id, blobstore.PartName(name, int64(p[0])))
		if err := bucket.Put(ctx, key, bytes.NewReader(data[p[0]:p[1]]), int64(p[1]-p[0]), ""); err != nil {
			t.Fatal(err)
		}
	}
	if got := plain(t, files, rel); !strings.Contains(got, "hello") {
		t.Errorf("read from the parts: %q", got)
	}

	key, _ := blobstore.Key(id, name)
	sum := sha256.Sum256(data)
	if err := bucket.Put(ctx, key, bytes.NewReader(data), int64(len(data)), hex.EncodeToString(sum[:])); err != nil {
		t.Fatal(err)
	}
	r, err := castfile.Open(files, rel)
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	for i := range r.Index().Chunks {
		_ = r.Events(i, func(ev asciicast.Event) error { out.WriteString(ev.Data); return nil })
	}
	_ = r.Close()
	if out.String() != "hello\r\nworld\r\n" {
		t.Errorf("chunks read from the object: %q", out.String())
	}
	if c := files.Check(rel, hex.EncodeToString(sum[:]), false); !c.OK || c.Size != int64(len(data)) {
		t.Errorf("check of the object: %+v", c)
	}
	if c := files.Check(rel, strings.Repeat("0", 64), false); c.OK {
		t.Errorf("check against another hash passed: %+v", c)
	}

	local := filepath.Join(spool, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(local), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(local, compressedCast(t, `[0.1,"o","spool copy\r\n"]`), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := plain(t, files, rel); !strings.Contains(got, "spool copy") {
		t.Errorf("the spool copy is not read first: %q", got)
	}

	if err := files.Remove(ctx, rel); err != nil {
		t.Fatal(err)
	}
	if left, err := bucket.List(ctx, id); err != nil || len(left) != 0 {
		t.Errorf("after Remove the bucket holds %v, %v", left, err)
	}
	if _, err := os.Stat(local); !os.IsNotExist(err) {
		t.Errorf("after Remove the spool copy: %v", err)
	}

	for _, bad := range []string{"../" + rel, rel + "/../../x", filepath.Dir(rel) + "/" + id + ".cast.gz.part-000000000000", "/etc/passwd", ""} {
		if f, err := files.Open(bad); err == nil {
			_ = f.Close()
			t.Errorf("Open(%q) succeeded", bad)
		}
	}
}
