package blobstore_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/jumpcast/jumpcast/internal/blobstore"
	"github.com/jumpcast/jumpcast/internal/recording"
	"github.com/jumpcast/jumpcast/internal/s3test"
)

// spoolRecording writes a recording's files into the spool as the
// recorder leaves them, and returns their contents by name.
func spoolRecording(t *testing.T, spool string, at time.Time, sizes ...int) (string, map[string][]byte) {
	t.Helper()
	id := recording.NewID(at)
	rel, _ := recording.RelPath(id)
	dir := filepath.Join(spool, filepath.Dir(rel))
	if err := os.MkdirAll(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for i, n := range sizes {
		name := id + []string{".cast.gz", ".idx"}[i]
		b := bytes.Repeat([]byte{byte('a' + i)}, n)
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o640); err != nil {
			t.Fatal(err)
		}
		files[name] = b
	}
	return id, files
}

type events struct {
	mu                sync.Mutex
	uploaded          []string
	failed, recovered int
}

func TestUploaderOutage(t *testing.T) {
	srv := s3test.Start(t)
	spool := blobstore.NewLocal(t.TempDir())
	dest := s3Store(t, srv, 5<<20)
	var ev events
	u := &blobstore.Uploader{Spool: spool, Dest: dest, MinBackoff: 50 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
		Uploaded: func(_ context.Context, id string) error {
			ev.mu.Lock()
			defer ev.mu.Unlock()
			ev.uploaded = append(ev.uploaded, id)
			return nil
		},
		Failed:    func(string, error) { ev.mu.Lock(); ev.failed++; ev.mu.Unlock() },
		Recovered: func(string) { ev.mu.Lock(); ev.recovered++; ev.mu.Unlock() },
	}
	a, aFiles := spoolRecording(t, spool.Dir, time.Now().Add(-time.Hour), 6<<20+7, 300)
	b, bFiles := spoolRecording(t, spool.Dir, time.Now(), 1000)
	if files, bytes, err := spool.Usage(); err != nil || files != 3 || bytes != 6<<20+7+300+1000 {
		t.Fatalf("Usage = %d files %d bytes, %v", files, bytes, err)
	}

	srv.Stop()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { u.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	u.Enqueue(a)
	u.Enqueue(b)
	u.Enqueue(a)
	waitFor(t, "the failure hook", func() bool { ev.mu.Lock(); defer ev.mu.Unlock(); return ev.failed == 1 })
	time.Sleep(500 * time.Millisecond) // several retries while down
	if n := u.Pending(); n != 2 {
		t.Fatalf("Pending = %d while the bucket is down, want 2", n)
	}
	if files, _, _ := spool.Usage(); files != 3 {
		t.Fatalf("spool has %d files while the bucket is down, want 3", files)
	}

	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the uploads", func() bool { return u.Pending() == 0 })
	ev.mu.Lock()
	if ev.failed != 1 || ev.recovered != 1 || len(ev.uploaded) != 2 {
		t.Errorf("failed %d, recovered %d, uploaded %v; want 1, 1, both", ev.failed, ev.recovered, ev.uploaded)
	}
	ev.mu.Unlock()
	if files, _, _ := spool.Usage(); files != 0 {
		t.Errorf("spool keeps %d files after the upload", files)
	}
	for id, files := range map[string]map[string][]byte{a: aFiles, b: bFiles} {
		for name, want := range files {
			key, _ := blobstore.Key(id, name)
			got, err := os.ReadFile(filepath.Join(srv.Dir, srv.Bucket, "node-recs", filepath.FromSlash(key)))
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("%s in the bucket: %d bytes, %v; want %d", key, len(got), err, len(want))
			}
		}
	}
}

// An index that cannot record the new place keeps the spool copy.
func TestUploaderKeepsSpoolWhenIndexFails(t *testing.T) {
	spool := blobstore.NewLocal(t.TempDir())
	dest := blobstore.NewLocal(t.TempDir())
	u := &blobstore.Uploader{Spool: spool, Dest: dest,
		Uploaded: func(context.Context, string) error { return errors.New("index down") }}
	id, _ := spoolRecording(t, spool.Dir, time.Now(), 10, 20)
	if err := u.Upload(context.Background(), id); err == nil {
		t.Fatal("Upload succeeded with the index down")
	}
	if names, _ := spool.Files(id); len(names) != 2 {
		t.Fatalf("spool keeps %v, want both files", names)
	}
	u.Uploaded = func(context.Context, string) error { return nil }
	if err := u.Upload(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	if names, _ := spool.Files(id); len(names) != 0 {
		t.Fatalf("spool keeps %v after the upload", names)
	}
	if names, _ := dest.Files(id); len(names) != 2 {
		t.Fatalf("destination has %v", names)
	}
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
