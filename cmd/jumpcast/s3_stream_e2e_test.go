package main

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jumpcast/jumpcast/internal/metrics/metricstest"
	"github.com/jumpcast/jumpcast/internal/recording"
	"github.com/jumpcast/jumpcast/internal/s3test"
	"github.com/jumpcast/jumpcast/recorder/castfile"
)

// streamedOutput returns what the stream parts of recording id in the
// bucket hold: the parts joined in order and decompressed as far as they
// go (the last chunk may be cut, as in a crash).
func streamedOutput(t *testing.T, srv *s3test.Server, id string) string {
	t.Helper()
	objs := bucketFiles(t, srv, id)
	var names []string
	for n := range objs {
		if strings.Contains(n, ".cast.gz.part-") {
			names = append(names, n)
		}
	}
	sort.Strings(names) // fixed-width hex offsets: name order is offset order
	var data []byte
	for _, n := range names {
		data = append(data, objs[n]...)
	}
	return gunzipTo(data)
}

// gunzipTo decompresses data as far as it goes (the last member may be
// cut, as in a crash); "" when it is not gzip.
func gunzipTo(data []byte) string {
	z, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return ""
	}
	var out bytes.Buffer
	_, _ = io.Copy(&out, z) // to the cut
	return out.String()
}

// gunzipCut returns what the compressed file at p holds, decompressed as
// far as it goes ("" when it cannot be read).
func gunzipCut(t *testing.T, p string) string {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		return ""
	}
	return gunzipTo(data)
}

// waitSpoolEmpty waits (up to 20s) until node's spool holds no file of
// recording id: the row says "bucket" before the uploader's last step
// (the parts, then the spool copy, removed), which lags under load.
func waitSpoolEmpty(t *testing.T, node *e2e, id string) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); len(spoolFiles(t, node, id)) > 0 && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
	}
}

// readyz returns the web's readiness answer.
func readyz(t *testing.T, webAddr string) (int, string) {
	t.Helper()
	res, err := http.Get("http://" + webAddr + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = res.Body.Close() }()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// spoolMetric scrapes the web's /metrics as a signed-in auditor and
// returns one series' value.
func spoolMetric(t *testing.T, web *http.Client, webAddr, series string) float64 {
	t.Helper()
	res, err := web.Get("http://" + webAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = res.Body.Close() }()
	samples, _, err := metricstest.Parse(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	v, ok := samples[series]
	if !ok {
		t.Fatalf("/metrics has no %s", series)
	}
	return v
}

// waitReadyz waits (the probe's answer is reused for a second) until
// /readyz answers code with a body containing want.
func waitReadyz(t *testing.T, webAddr string, code int, want string) {
	t.Helper()
	var got int
	var body string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if got, body = readyz(t, webAddr); got == code && strings.Contains(body, want) {
			return
		}
	}
	t.Errorf("readyz: %d %q, want %d %q", got, body, code, want)
}

// outage is how long TestS3StreamKillAndOutage keeps the bucket down,
// and outageTicks how many seconds its session prints through it.
const (
	outage      = time.Minute
	outageTicks = 65
)

// TestS3StreamKillAndOutage: while a session runs, what it printed
// reaches the bucket within the stream interval (measured: the loss
// window of a node lost for good); a node killed with -9 and restarted
// closes the recording from its spool and uploads it (the object's
// SHA-256 is the index's, the parts are gone); with the bucket down for a
// minute, a session printing through it and a new one go on, /readyz says
// the spool is filling, and once the bucket is back the spool drains with
// nothing lost (every line of the session that ran through the outage).
func TestS3StreamKillAndOutage(t *testing.T) {
	srv, edit := useBucket(t, "    spool_alert: 1\n")
	e := startE2EWith(t, edit)
	live := e.startLiveSSH(t, e.login(), `printf 'ready\n'; while read l; do printf 'got:%s\n' "$l"; done`)
	waitOutput(t, live, "ready")
	recs := waitRecordings(t, e.cfgPath, 1, func(r recording.Meta) bool { return r.Status == recording.StatusActive })
	id := recs[0].ID

	var worst time.Duration
	for i := 1; i <= 3; i++ {
		mark := fmt.Sprintf("got:mark-%d", i)
		live.send(t, fmt.Sprintf("mark-%d", i))
		waitOutput(t, live, mark)
		seen := time.Now()
		for !strings.Contains(streamedOutput(t, srv, id), mark) {
			if time.Since(seen) > 15*time.Second {
				t.Fatalf("%s not in the bucket 15s after the admin saw it", mark)
			}
			time.Sleep(20 * time.Millisecond)
		}
		lag := time.Since(seen)
		worst = max(worst, lag)
		t.Logf("%s reached the bucket %v after the admin saw it", mark, lag.Round(time.Millisecond))
	}
	t.Logf("loss window (stream_interval 1s): at most %v measured", worst.Round(time.Millisecond))

	e.srv.Kill()
	if got := streamedOutput(t, srv, id); !strings.Contains(got, "got:mark-3") {
		t.Fatalf("after the kill, the bucket's parts lack the last mark: %q", got)
	}
	e.srv = startServer(t, e.cfgPath)
	recs = waitRecordings(t, e.cfgPath, 1, func(r recording.Meta) bool { return r.Location == recording.LocationBucket })
	r := recs[0]
	if r.ID != id || r.Status != recording.StatusInterrupted {
		t.Fatalf("after the restart: %+v", r)
	}
	waitSpoolEmpty(t, e, r.ID)
	checkInBucket(t, srv, e, r)
	export := filepath.Join(t.TempDir(), "killed.cast")
	if _, errOut, code := runJumpcast(t, "", "recordings", "export", id, "-o", export, "-c", e.cfgPath); code != 0 {
		t.Fatalf("export: exit %d %q", code, errOut)
	}
	if _, got := castOutput(t, export); !strings.Contains(got, "got:mark-3") {
		t.Errorf("the killed session's recording lost output: %q", got)
	}
	if code, body := readyz(t, e.srv.WebAddr); code != http.StatusOK {
		t.Errorf("readyz with an empty spool: %d %q", code, body)
	}

	const pw = "s3 metrics passphrase"
	if _, errOut, code := runJumpcast(t, pw+"\n", "auditor", "add", "prom", "-c", e.cfgPath); code != 0 {
		t.Fatalf("auditor add: exit %d: %s", code, errOut)
	}
	web := webLogin(t, e.srv.WebAddr, "prom", pw)

	srv.Stop()
	stopped := time.Now()
	// A session that runs through the whole outage, printing every second.
	ticker := e.startLiveSSH(t, e.login(), "for i in $(seq 1 "+fmt.Sprint(outageTicks)+"); do echo tick-$i; sleep 1; done")
	waitOutput(t, ticker, "tick-1")
	out, errOut, code := e.ssh(t, "", e.login(), "echo during-the-outage")
	if code != 0 || !strings.Contains(out, "during-the-outage") {
		t.Fatalf("session while the bucket is down: exit %d %q %q", code, out, errOut)
	}
	var down recording.Meta
	for _, r := range listRecordings(t, e.cfgPath) {
		if r.ID != id && r.Status != recording.StatusActive {
			down = r
		}
	}
	if down.ID == "" || down.Location != recording.LocationNode || down.Status != recording.StatusFinished {
		t.Fatalf("recording made while the bucket is down: %+v", down)
	}
	waitReadyz(t, e.srv.WebAddr, http.StatusServiceUnavailable, "spool filling")
	if out, _, code := runJumpcast(t, "", "config", "check", "-c", e.cfgPath); code != 0 || !strings.Contains(out, "warning: recordings bucket not usable: s3 recordings/jc/ at") {
		t.Errorf("config check with the bucket down: exit %d %q", code, out)
	}
	if n := spoolMetric(t, web, e.srv.WebAddr, "jumpcast_spool_pending_recordings"); n != 1 {
		t.Errorf("upload backlog while the bucket is down: %v recordings, want 1", n)
	}
	time.Sleep(time.Until(stopped.Add(outage))) // retries fail meanwhile
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if code := ticker.waitExit(t); code != 0 {
		t.Errorf("the session through the outage: exit %d %q", code, ticker.out.String())
	}
	recs = waitRecordingsFor(t, e.cfgPath, 3, 40*time.Second, func(r recording.Meta) bool { return r.Location == recording.LocationBucket })
	t.Logf("bucket down %v; spool drained %v after it came back", outage, time.Since(start).Round(time.Millisecond))
	for _, r := range recs {
		if r.ID == id {
			continue
		}
		waitSpoolEmpty(t, e, r.ID)
		checkInBucket(t, srv, e, r)
		if r.ID == down.ID {
			continue
		}
		export := filepath.Join(t.TempDir(), "outage.cast")
		if _, errOut, code := runJumpcast(t, "", "recordings", "export", r.ID, "-o", export, "-c", e.cfgPath); code != 0 {
			t.Fatalf("export: exit %d %q", code, errOut)
		}
		_, got := castOutput(t, export)
		for i := 1; i <= outageTicks; i++ {
			if !strings.Contains(got, fmt.Sprintf("tick-%d\r\n", i)) {
				t.Fatalf("the session through the outage lost tick-%d: %.300q", i, got)
			}
		}
	}
	waitReadyz(t, e.srv.WebAddr, http.StatusOK, "ok")
	if n := spoolMetric(t, web, e.srv.WebAddr, "jumpcast_spool_pending_recordings"); n != 0 {
		t.Errorf("upload backlog after the drain: %v", n)
	}
	if !strings.Contains(e.srv.Stderr.String(), "cannot be uploaded to the bucket") {
		t.Errorf("no alert line in the log for the failed uploads")
	}
}

// TestS3LostNodeReadFromParts: node A is killed for good while a session
// runs; node B marks the recording interrupted and, within a bounded time,
// seals it from the parts A streamed: the row gets the size and SHA-256 of
// one closed object in the bucket, no part is left, `recordings verify`
// passes on B, and export and grep on B find everything the admin saw up
// to a stream interval before the kill. When A comes back after all, its
// recovery repairs the row from its spool copy (which holds at least as
// much) and its uploader puts that copy over the sealed one: the row and
// the object agree again, and it still verifies.
func TestS3LostNodeReadFromParts(t *testing.T) {
	srv, edit := useBucket(t, "")
	tc := startClusterEdit(t, silentHeartbeat, "", edit, "node-a", "node-b")
	a, b := tc.nodes["node-a"], tc.nodes["node-b"]
	live := a.startLiveSSH(t, a.login(), `printf 'ready\n'; while read l; do printf 'got:%s\n' "$l"; done`)
	waitOutput(t, live, "ready")
	recs := waitRecordings(t, b.cfgPath, 1, func(r recording.Meta) bool { return r.Status == recording.StatusActive })
	id := recs[0].ID
	live.send(t, "before-the-loss")
	waitOutput(t, live, "got:before-the-loss")
	for deadline := time.Now().Add(15 * time.Second); !strings.Contains(streamedOutput(t, srv, id), "got:before-the-loss"); {
		if time.Now().After(deadline) {
			t.Fatal("the output never reached the bucket")
		}
		time.Sleep(50 * time.Millisecond)
	}
	// One more line while the bucket is down: in A's spool only, so that
	// the sealed copy lacks it and A's copy, when A comes back, has it.
	srv.Stop()
	live.send(t, "in-the-spool")
	waitOutput(t, live, "got:in-the-spool")
	rel, _ := recording.RelPath(id)
	spooled := filepath.Join(a.dataDir, "recordings", filepath.FromSlash(rel)+".gz")
	for deadline := time.Now().Add(15 * time.Second); !strings.Contains(gunzipCut(t, spooled), "got:in-the-spool"); {
		if time.Now().After(deadline) {
			t.Fatal("the last line never reached A's spool")
		}
		time.Sleep(50 * time.Millisecond)
	}
	a.srv.Kill()
	killed := time.Now()
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	r := waitRecordingsFor(t, b.cfgPath, 1, 30*time.Second, func(r recording.Meta) bool {
		return r.Status == recording.StatusInterrupted && r.SHA256 != ""
	})[0]
	t.Logf("lost node's recording interrupted and sealed from its parts %v after the kill", time.Since(killed).Round(time.Millisecond))
	if r.ID != id || r.Location != recording.LocationBucket || r.FileSize <= 0 {
		t.Fatalf("the lost node's sealed recording: %+v", r)
	}
	checkInBucket(t, srv, b, r)
	// Sealed with its keyframes, as the uploader would have put it: a seek
	// anywhere in it shows the exact screen.
	if idx := bucketFiles(t, srv, id)[path.Base(castfile.IndexPath(r.Path))]; !bytes.HasSuffix(idx, []byte(`"keyframes":true}`+"\n")) {
		t.Errorf("the sealed recording's index in the bucket has no keyframes: ends %q", idx[max(0, len(idx)-80):])
	}
	if out, errOut, code := runJumpcast(t, "", "recordings", "verify", id, "-c", b.cfgPath); code != 0 {
		t.Errorf("verify on B of the sealed recording: exit %d %q %q", code, out, errOut)
	}
	export := filepath.Join(t.TempDir(), "lost.cast")
	if _, errOut, code := runJumpcast(t, "", "recordings", "export", id, "-o", export, "-c", b.cfgPath); code != 0 {
		t.Fatalf("export on B of the lost node's recording: exit %d %q", code, errOut)
	}
	if _, got := castOutput(t, export); !strings.Contains(got, "got:before-the-loss") || strings.Contains(got, "got:in-the-spool") {
		t.Errorf("export on B of the sealed parts (want the streamed line, not the one sent with the bucket down): %q", got)
	}
	if out, errOut, code := runJumpcast(t, "", "recordings", "grep", "before-the-loss", "-c", b.cfgPath); code != 0 || !strings.Contains(out, id) {
		t.Errorf("grep on B: exit %d %q %q", code, out, errOut)
	}

	// A comes back after all: its spool copy replaces the sealed one.
	a.srv = startServer(t, a.cfgPath)
	var back recording.Meta
	for deadline := time.Now().Add(40 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		back = waitRecordings(t, b.cfgPath, 1, func(recording.Meta) bool { return true })[0]
		obj := bucketFiles(t, srv, id)[filepath.Base(back.Path)]
		if back.Error == "" && back.Location == recording.LocationBucket && sha256Hex(obj) == back.SHA256 && len(spoolFiles(t, a, id)) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after A came back, the row %+v never matched its object (%d bytes)", back, len(obj))
		}
	}
	if back.Status != recording.StatusInterrupted {
		t.Errorf("after A came back: %+v", back)
	}
	t.Logf("A came back: sealed from the parts %d bytes, A's spool copy %d bytes", r.FileSize, back.FileSize)
	checkInBucket(t, srv, a, back)
	if out, errOut, code := runJumpcast(t, "", "recordings", "verify", id, "-c", b.cfgPath); code != 0 {
		t.Errorf("verify on B after A came back: exit %d %q %q", code, out, errOut)
	}
	export = filepath.Join(t.TempDir(), "back.cast")
	if _, errOut, code := runJumpcast(t, "", "recordings", "export", id, "-o", export, "-c", b.cfgPath); code != 0 {
		t.Fatalf("export on B after A came back: exit %d %q", code, errOut)
	}
	if _, got := castOutput(t, export); !strings.Contains(got, "got:before-the-loss") || !strings.Contains(got, "got:in-the-spool") {
		t.Errorf("export on B after A came back: %q", got)
	}
}
