package blobstore_test

import (
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jumpcast/jumpcast/internal/blobstore"
	"github.com/jumpcast/jumpcast/internal/recording"
	"github.com/jumpcast/jumpcast/internal/s3test"
)

// BenchmarkUpload measures the uploader moving one closed 32 MiB
// recording (incompressible, as a compressed one is) from the spool to a
// real S3 server on loopback: hash, multipart put, stat check, spool
// removal.
func BenchmarkUpload(b *testing.B) {
	srv := s3test.Start(b)
	dest := s3Store(b, srv, 16<<20)
	const size = 32 << 20
	data := make([]byte, size)
	_, _ = rand.Read(data)
	spool := blobstore.NewLocal(b.TempDir())
	u := &blobstore.Uploader{Spool: spool, Dest: dest, Uploaded: func(context.Context, string) error { return nil }}
	b.SetBytes(size)
	b.ReportAllocs()
	at := time.Now()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		at = at.Add(time.Millisecond)
		id := recording.NewID(at)
		rel, _ := recording.RelPath(id)
		p := filepath.Join(spool.Dir, filepath.FromSlash(rel)+".gz")
		if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o600); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if err := u.Upload(context.Background(), id); err != nil {
			b.Fatal(err)
		}
	}
}
