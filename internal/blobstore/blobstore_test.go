package blobstore_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
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

func sum(b []byte) string { h := sha256.Sum256(b); return hex.EncodeToString(h[:]) }

func TestKey(t *testing.T) {
	id := recording.NewID(time.Date(2026, 11, 24, 9, 30, 12, 0, time.UTC))
	k, err := blobstore.Key(id, id+".cast.gz")
	if err != nil || k != "2026/11/24/"+id+".cast.gz" {
		t.Fatalf("Key = %q, %v", k, err)
	}
	other := recording.NewID(time.Date(2026, 11, 25, 9, 30, 12, 0, time.UTC))
	for _, name := range []string{id, id + "/../x", id + "./x", other + ".cast", "../" + id + ".cast", id + ".CAST", id + "..cast", id + "x"} {
		if k, err := blobstore.Key(id, name); err == nil {
			t.Errorf("Key(%q) = %q, want an error", name, k)
		}
	}
	if _, err := blobstore.Key("../../etc/passwd", "../../etc/passwd.cast"); err == nil {
		t.Error("Key accepted an id ValidID refuses")
	}
}

func s3Store(t testing.TB, srv *s3test.Server, partSize uint64) *blobstore.S3 {
	t.Helper()
	s, err := blobstore.NewS3(blobstore.S3Config{Endpoint: srv.Endpoint, Insecure: true, Bucket: srv.Bucket,
		Region: "us-east-1", Prefix: "node-recs", AccessKey: srv.AccessKey, SecretKey: srv.SecretKey,
		PathStyle: true, PartSize: partSize})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestStores(t *testing.T) {
	srv := s3test.Start(t)
	stores := map[string]blobstore.Store{
		"local": blobstore.NewLocal(t.TempDir()),
		"s3":    s3Store(t, srv, 5<<20),
	}
	for name, st := range stores {
		t.Run(name, func(t *testing.T) { contract(t, st) })
	}
}

func contract(t *testing.T, st blobstore.Store) {
	ctx := context.Background()
	id := recording.NewID(time.Now())
	key, err := blobstore.Key(id, id+".cast")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Open(ctx, key); !errors.Is(err, blobstore.ErrNotExist) {
		t.Fatalf("Open of a missing key: %v, want ErrNotExist", err)
	}
	// 11 MiB: more than two parts of 5 MiB, a multipart upload on S3.
	data := make([]byte, 11<<20+12345)
	if _, err := rand.Read(data); err != nil {
		t.Fatal(err)
	}
	if err := st.Put(ctx, key, bytes.NewReader(data), int64(len(data)), sum(data)); err != nil {
		t.Fatal(err)
	}
	info, err := st.Stat(ctx, key)
	if err != nil || info.Size != int64(len(data)) {
		t.Fatalf("Stat = %+v, %v", info, err)
	}
	if _, ok := st.(*blobstore.S3); ok && info.SHA256 != sum(data) {
		t.Errorf("S3 Stat SHA256 = %q, want %q", info.SHA256, sum(data))
	}
	obj, err := st.Open(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Close()
	if obj.Size() != int64(len(data)) {
		t.Fatalf("Size = %d", obj.Size())
	}
	// Chunks read at offsets, like the player; the last one short with EOF.
	for _, off := range []int64{0, 5<<20 - 3, int64(len(data)) - 100} {
		p := make([]byte, 4096)
		n, err := obj.ReadAt(p, off)
		want := data[off:min(off+4096, int64(len(data)))]
		if n != len(want) || !bytes.Equal(p[:n], want) {
			t.Fatalf("ReadAt(%d) = %d bytes, %v", off, n, err)
		}
		if n < len(p) && err != io.EOF {
			t.Fatalf("short ReadAt(%d) err = %v, want io.EOF", off, err)
		}
	}
	whole, err := io.ReadAll(io.NewSectionReader(obj, 0, obj.Size()))
	if err != nil || !bytes.Equal(whole, data) {
		t.Fatalf("whole read: %d bytes, %v", len(whole), err)
	}

	// A Put that does not match its size or SHA-256 fails and keeps the
	// good copy.
	bad := append([]byte(nil), data[:1000]...)
	if err := st.Put(ctx, key, bytes.NewReader(bad), 2000, sum(bad)); err == nil {
		t.Error("Put of fewer bytes than size succeeded")
	}
	if err := st.Put(ctx, key, bytes.NewReader(bad), 1000, sum(data)); err == nil {
		t.Error("Put with the wrong SHA-256 succeeded")
	}
	if info, err := st.Stat(ctx, key); err == nil && info.Size != int64(len(data)) && info.Size != 0 {
		t.Errorf("after failed Puts the object has %d bytes", info.Size)
	}

	for _, k := range []string{"../../etc/passwd", "2026/11/24/../../x", "/etc/passwd", key + "/x"} {
		if _, err := st.Open(ctx, k); err == nil || errors.Is(err, blobstore.ErrNotExist) {
			t.Errorf("Open(%q) = %v, want a bad key error", k, err)
		}
		if err := st.Delete(ctx, k); err == nil {
			t.Errorf("Delete(%q) succeeded", k)
		}
	}

	if err := st.Delete(ctx, key); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Stat(ctx, key); !errors.Is(err, blobstore.ErrNotExist) {
		t.Fatalf("Stat after Delete: %v", err)
	}
	if err := st.Delete(ctx, key); err != nil {
		t.Fatalf("second Delete: %v", err)
	}
}

func TestS3CheckAndOutage(t *testing.T) {
	srv := s3test.Start(t)
	ctx := context.Background()
	good := s3Store(t, srv, 0)
	if err := good.Check(ctx); err != nil {
		t.Fatalf("Check: %v", err)
	}
	wrong, err := blobstore.NewS3(blobstore.S3Config{Endpoint: srv.Endpoint, Insecure: true, Bucket: srv.Bucket,
		AccessKey: srv.AccessKey, SecretKey: "not-the-secret", PathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	err = wrong.Check(ctx)
	if err == nil || strings.Contains(err.Error(), "\n") || strings.Contains(err.Error(), "not-the-secret") {
		t.Fatalf("Check with a wrong secret: %v; want one line without the secret", err)
	}
	t.Logf("wrong credentials: %v", err)

	id := recording.NewID(time.Now())
	key, _ := blobstore.Key(id, id+".cast")
	data := []byte("{\"version\":2}\n[0.1,\"o\",\"hi\"]\n")
	srv.Stop()
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	err = good.Put(sctx, key, bytes.NewReader(data), int64(len(data)), sum(data))
	cancel()
	if err == nil {
		t.Fatal("Put while the server is down succeeded")
	}
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	if err := good.Put(ctx, key, bytes.NewReader(data), int64(len(data)), sum(data)); err != nil {
		t.Fatalf("Put after the server came back: %v", err)
	}
	b, err := os.ReadFile(filepath.Join(srv.Dir, srv.Bucket, "node-recs", filepath.FromSlash(key)))
	if err != nil || !bytes.Equal(b, data) {
		t.Fatalf("object on disk: %q, %v", b, err)
	}
}
