package blobstore_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jumpcast/jumpcast/internal/blobstore"
	"github.com/jumpcast/jumpcast/internal/recording"
	"github.com/jumpcast/jumpcast/internal/s3test"
)

// joinParts reads the parts Parts finds, in order.
func joinParts(t *testing.T, dest blobstore.Store, id, name string) []byte {
	t.Helper()
	parts, err := blobstore.Parts(context.Background(), dest, id, name)
	if err != nil {
		t.Fatal(err)
	}
	var out []byte
	for _, p := range parts {
		o, err := dest.Open(context.Background(), p.Key)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(io.NewSectionReader(o, 0, o.Size()))
		_ = o.Close()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b...)
	}
	return out
}

// TestStreamerSendsWhatGrows: a growing spool file reaches the bucket as
// parts within the interval (their concatenation is the file's prefix);
// PartSize bytes go at once; a bucket outage holds the bytes back
// (Lag says how many) and they go once it is back; after Stop and Wait
// nothing more is sent.
func TestStreamerSendsWhatGrows(t *testing.T) {
	srv := s3test.Start(t)
	spool := blobstore.NewLocal(t.TempDir())
	dest := s3Store(t, srv, 5<<20)
	id := recording.NewID(time.Now())
	rel, _ := recording.RelPath(id)
	name := id + ".cast.gz"
	path := filepath.Join(spool.Dir, filepath.Dir(rel), name)
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	var written []byte
	write := func(b []byte) {
		if _, err := f.Write(b); err != nil {
			t.Fatal(err)
		}
		written = append(written, b...)
	}
	s := &blobstore.Streamer{Spool: spool, Dest: dest, Interval: 300 * time.Millisecond, PartSize: 64 << 10, Tick: 20 * time.Millisecond}
	if err := s.Start(id, name); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	write([]byte("first bytes"))
	start := time.Now()
	waitFor(t, "the first part", func() bool { return bytes.Equal(joinParts(t, dest, id, name), written) })
	t.Logf("a small write reached the bucket after %v (interval 300ms)", time.Since(start).Round(time.Millisecond))

	write(bytes.Repeat([]byte("x"), 100<<10)) // past PartSize: sent without waiting for the interval
	waitFor(t, "the big write", func() bool { return bytes.Equal(joinParts(t, dest, id, name), written) })

	srv.Stop()
	write([]byte("written while the bucket is down"))
	waitFor(t, "the lag to show", func() bool { n, age := s.Lag(); return n == 32 && age > 0 })
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the bytes held back", func() bool { return bytes.Equal(joinParts(t, dest, id, name), written) })
	if n, _ := s.Lag(); n != 0 {
		t.Errorf("Lag after the catch-up: %d bytes", n)
	}

	s.Stop(id)
	s.Wait(id)
	write([]byte("after the stop"))
	time.Sleep(500 * time.Millisecond)
	if got := joinParts(t, dest, id, name); bytes.Contains(got, []byte("after the stop")) {
		t.Errorf("bytes written after Stop were streamed")
	}
}

// TestCopyPartsJoinsOrRefusesAGap: parts put out of order join into the
// file in offset order; with a part missing in the middle CopyParts
// refuses (nothing may replace the parts), and with none it says so.
func TestCopyPartsJoinsOrRefusesAGap(t *testing.T) {
	srv := s3test.Start(t)
	dest := s3Store(t, srv, 5<<20)
	ctx := context.Background()
	id := recording.NewID(time.Now())
	name := id + ".cast.gz"
	put := func(off int64, data string) {
		t.Helper()
		key, _ := blobstore.Key(id, blobstore.PartName(name, off))
		if err := dest.Put(ctx, key, bytes.NewReader([]byte(data)), int64(len(data)), ""); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := blobstore.CopyParts(ctx, dest, id, name, io.Discard); !errors.Is(err, blobstore.ErrNotExist) {
		t.Errorf("no part: %v, want ErrNotExist", err)
	}
	put(5, "world")
	put(0, "hello")
	put(10, "!")
	var got bytes.Buffer
	n, parts, err := blobstore.CopyParts(ctx, dest, id, name, &got)
	if err != nil || n != 11 || len(parts) != 3 || got.String() != "helloworld!" {
		t.Fatalf("joined %d bytes %q from %d parts, %v", n, got.String(), len(parts), err)
	}
	put(20, "late")
	if _, _, err := blobstore.CopyParts(ctx, dest, id, name, io.Discard); err == nil || !strings.Contains(err.Error(), "a part is missing") {
		t.Errorf("with a gap: %v, want a missing part", err)
	}
}
