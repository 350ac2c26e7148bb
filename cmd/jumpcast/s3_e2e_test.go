package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jumpcast/jumpcast/internal/audit"
	"github.com/jumpcast/jumpcast/internal/recording"
	"github.com/jumpcast/jumpcast/internal/s3test"
)

// s3Prefix is the object prefix the S3 tests configure.
const s3Prefix = "jc/"

// useBucket starts a real S3 server for the test, puts its credentials in
// the environment the servers and the CLI inherit (as an operator would:
// never in the config file), and returns the config edit that sends a
// node's recordings there, with more recording.s3 keys (lines indented
// four spaces).
func useBucket(t testing.TB, s3Keys string) (*s3test.Server, func(cfgPath string)) {
	t.Helper()
	srv := s3test.Start(t)
	t.Setenv("AWS_ACCESS_KEY_ID", srv.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", srv.SecretKey)
	edit := func(cfgPath string) {
		b, err := os.ReadFile(cfgPath)
		if err != nil {
			t.Fatal(err)
		}
		const rec = "recording:\n  min_free_space: 1MiB\n"
		s3 := fmt.Sprintf("%s  storage: s3\n  s3:\n    bucket: %s\n    endpoint: %q\n    insecure: true\n    path_style: true\n    prefix: %s\n    stream_interval: 1s\n%s",
			rec, srv.Bucket, srv.Endpoint, s3Prefix, s3Keys)
		if !strings.Contains(string(b), rec) {
			t.Fatalf("config lacks %q", rec)
		}
		if err := os.WriteFile(cfgPath, []byte(strings.Replace(string(b), rec, s3, 1)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return srv, edit
}

// bucketFiles returns recording id's objects in the server's folder (the
// posix backend keeps each object as a file), by name.
func bucketFiles(t testing.TB, srv *s3test.Server, id string) map[string][]byte {
	t.Helper()
	rel, err := recording.RelPath(id)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(srv.Dir, srv.Bucket, s3Prefix, filepath.Dir(rel))
	ents, _ := os.ReadDir(dir)
	out := map[string][]byte{}
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), id) && e.Type().IsRegular() {
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			out[e.Name()] = b
		}
	}
	return out
}

// spoolFiles returns the names of recording id's files left in a node's
// spool (its recordings folder).
func spoolFiles(t *testing.T, e *e2e, id string) []string {
	t.Helper()
	rel, _ := recording.RelPath(id)
	ents, _ := os.ReadDir(filepath.Join(e.dataDir, "recordings", filepath.Dir(rel)))
	var names []string
	for _, en := range ents {
		if strings.HasPrefix(en.Name(), id) {
			names = append(names, en.Name())
		}
	}
	return names
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// checkInBucket checks that r's closed file is in the bucket with the
// index's SHA-256, without stream parts beside it, and gone from node's
// spool.
func checkInBucket(t *testing.T, srv *s3test.Server, node *e2e, r recording.Meta) {
	t.Helper()
	waitSpoolEmpty(t, node, r.ID) // the index is told before the parts and the spool copy go
	objs := bucketFiles(t, srv, r.ID)
	data, ok := objs[filepath.Base(r.Path)]
	if !ok {
		t.Fatalf("bucket holds %v, not %s", keys(objs), filepath.Base(r.Path))
	}
	if got := sha256Hex(data); got != r.SHA256 || int64(len(data)) != r.FileSize {
		t.Errorf("object: %d bytes sha256 %s; index: %d bytes %s", len(data), got, r.FileSize, r.SHA256)
	}
	for name := range objs {
		if strings.Contains(name, ".part-") {
			t.Errorf("stream part %s left beside the closed recording", name)
		}
	}
	if left := spoolFiles(t, node, r.ID); len(left) > 0 {
		t.Errorf("spool still holds %v after the upload", left)
	}
}

func keys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestS3RecordingMadeOnAPlaysOnB: two nodes on one PostgreSQL index and
// one bucket. A session through node A is archived and uploaded when it
// ends (the index says "bucket" and names the .cast.zst, the object's
// SHA-256 is the index's, an archive audit event, A's spool is empty); node B — which never had the file — verifies it, exports it,
// finds it with grep and plays it in the web player (index and chunks);
// with B stopped, the CLI reads it from the bucket too.
func TestS3RecordingMadeOnAPlaysOnB(t *testing.T) {
	srv, edit := useBucket(t, "")
	tc := startClusterEdit(t, 0, "", edit, "node-a", "node-b")
	a, b := tc.nodes["node-a"], tc.nodes["node-b"]
	if out, errOut, code := a.ssh(t, "", a.login(), "for i in $(seq 1 400); do echo s3-line-$i; done; echo s3-marker-end"); code != 0 ||
		!strings.Contains(out, "s3-marker-end") {
		t.Fatalf("ssh through A: exit %d %q %q", code, out, errOut)
	}
	recs := waitRecordings(t, b.cfgPath, 1, func(r recording.Meta) bool { return r.Location == recording.LocationBucket })
	r := recs[0]
	if r.Node != "node-a" || r.Status != recording.StatusFinished {
		t.Fatalf("row: %+v", r)
	}
	checkInBucket(t, srv, a, r)
	// A archived it before the upload: the bucket keeps the .cast.zst only.
	if !strings.HasSuffix(r.Path, ".cast.zst") {
		t.Errorf("the index names %s, not the archived file", r.Path)
	}
	for name := range bucketFiles(t, srv, r.ID) {
		if strings.HasSuffix(name, ".cast.gz") {
			t.Errorf("the bucket still holds %s", name)
		}
	}
	if lines := auditLines(t, b.cfgPath, "--kind", string(audit.KindArchive)); !strings.Contains(lines, r.ID) || !strings.Contains(lines, r.SHA256) {
		t.Errorf("no archive event with the uploaded file's checksum: %s", lines)
	}
	if out, errOut, code := runJumpcast(t, "", "config", "check", "-c", b.cfgPath); code != 0 || !strings.Contains(out, "recordings: s3 recordings/jc/ at "+srv.Endpoint+", reachable") {
		t.Errorf("config check: exit %d %q %q", code, out, errOut)
	}

	if out, errOut, code := runJumpcast(t, "", "recordings", "verify", r.ID, "-c", b.cfgPath); code != 0 {
		t.Errorf("verify on B: exit %d %q %q", code, out, errOut)
	}
	export := filepath.Join(t.TempDir(), "export.cast")
	if _, errOut, code := runJumpcast(t, "", "recordings", "export", r.ID, "-o", export, "-c", b.cfgPath); code != 0 {
		t.Fatalf("export on B: exit %d %q", code, errOut)
	}
	if _, got := castOutput(t, export); !strings.Contains(got, "s3-line-1\n") || !strings.Contains(got, "s3-marker-end") {
		t.Errorf("export on B: %.300q", got)
	}
	if out, errOut, code := runJumpcast(t, "", "recordings", "grep", "s3-marker-end", "-c", b.cfgPath); code != 0 || !strings.Contains(out, r.ID) {
		t.Errorf("grep on B: exit %d %q %q", code, out, errOut)
	}

	const pw = "s3 e2e passphrase"
	if _, errOut, code := runJumpcast(t, pw+"\n", "auditor", "add", "root", "--role", "admin", "-c", b.cfgPath); code != 0 {
		t.Fatalf("auditor add: exit %d: %s", code, errOut)
	}
	web := webLogin(t, b.srv.WebAddr, "root", pw)
	for _, p := range []string{"/index", "/chunks/0"} {
		res, err := web.Get("http://" + b.srv.WebAddr + "/recordings/" + r.ID + p)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		_ = res.Body.Close()
		if res.StatusCode != http.StatusOK || p == "/chunks/0" && !strings.Contains(string(body), "s3-line-1") {
			t.Errorf("GET %s on B: %d %.300s", p, res.StatusCode, body)
		}
	}

	b.srv.Stop(t)
	export2 := filepath.Join(t.TempDir(), "export2.cast")
	if _, errOut, code := runJumpcast(t, "", "recordings", "export", r.ID, "-o", export2, "-c", b.cfgPath); code != 0 {
		t.Fatalf("export with B stopped: exit %d %q", code, errOut)
	}
}
