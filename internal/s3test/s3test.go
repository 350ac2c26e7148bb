// Package s3test runs a real S3-compatible server for tests: versitygw
// (github.com/versity/versitygw) with its posix backend on a temporary
// folder, listening on a loopback port. Build compiles it once into the
// user's cache folder (make test-deps runs ./internal/s3test/build); Start
// skips the test when it cannot be built, or fails it under
// JUMPCAST_REQUIRE_REAL=1.
package s3test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/jumpcast/jumpcast/internal/sshtest"
)

// Version is the versitygw release the tests run (served by the module
// proxy; go install builds it).
const Version = "v1.8.0"

// Build installs versitygw, unless already there, into the user's cache
// folder and returns the binary's path.
func Build() (string, error) {
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "jumpcast-test", "versitygw-"+Version)
	bin := filepath.Join(dir, "versitygw")
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	cmd := exec.Command("go", "install", "github.com/versity/versitygw/cmd/versitygw@"+Version)
	cmd.Env = append(os.Environ(), "GOWORK=off", "CGO_ENABLED=0", "GOBIN="+dir, "GOFLAGS=-mod=mod")
	cmd.Dir = os.TempDir()
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build the test S3 server (versitygw %s): %v\n%s", Version, err, out)
	}
	return bin, nil
}

// Server is a running versitygw with one bucket.
type Server struct {
	// Endpoint is 127.0.0.1:PORT (plain HTTP).
	Endpoint             string
	AccessKey, SecretKey string
	Bucket               string
	// Dir is the posix backend's folder: Dir/Bucket/<key> are the objects.
	Dir string

	bin, meta string
	cmd       *exec.Cmd
	log       *strings.Builder
}

// Start runs a server with an empty bucket "recordings"; it is stopped when
// the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := Build()
	if err != nil {
		sshtest.Unavailable(t, err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	root := t.TempDir()
	s := &Server{Endpoint: addr, AccessKey: "jumpcasttest", SecretKey: "jumpcast-test-secret-0123456789",
		Bucket: "recordings", Dir: filepath.Join(root, "data"), bin: bin, meta: filepath.Join(root, "meta")}
	for _, d := range []string{s.Dir, s.meta} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() && s.log != nil {
			t.Logf("versitygw's log:\n%s", s.log.String())
		}
	})
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	c, err := minio.New(s.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(s.AccessKey, s.SecretKey, "")})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.MakeBucket(context.Background(), s.Bucket, minio.MakeBucketOptions{}); err != nil {
		t.Fatalf("make bucket: %v", err)
	}
	return s
}

// Stop kills the server (the bucket's files stay); Restart brings it back.
func (s *Server) Stop() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}

// Restart starts the server again on the same address and folder, and
// waits until it answers.
func (s *Server) Restart() error {
	s.Stop()
	s.log = &strings.Builder{}
	cmd := exec.Command(s.bin, "--access", s.AccessKey, "--secret", s.SecretKey, "--port", s.Endpoint, "--quiet",
		"posix", "--sidecar", s.meta, s.Dir)
	cmd.Stdout, cmd.Stderr = s.log, s.log
	if err := cmd.Start(); err != nil {
		return err
	}
	s.cmd = cmd
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + s.Endpoint + "/")
		if err == nil {
			resp.Body.Close()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("versitygw did not answer on %s within 20s; log:\n%s", s.Endpoint, s.log.String())
}
