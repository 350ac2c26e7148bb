package replayweb

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/jumpcast/jumpcast/internal/audit"
	"github.com/jumpcast/jumpcast/internal/recording"
	"github.com/jumpcast/jumpcast/recorder"
)

// TestPlayerRoutes: the index gives the page the timeline, size, markers
// and activity; a chunk gives its keyframe and events; the page view is
// one playback in the audit trail however many chunks it reads; bad chunk
// numbers are a 404 that loses nothing.
func TestPlayerRoutes(t *testing.T) {
	e := newEnv(t, nil)
	rec := e.addRecording(recording.Meta{}, sampleCast)
	c := e.client()
	c.login("alice", testPassword)

	res, body := c.get("/recordings/" + rec.ID + "/index")
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("index: %d %q", res.StatusCode, res.Header.Get("Content-Type"))
	}
	var ix playerIndex
	if err := json.Unmarshal([]byte(body), &ix); err != nil {
		t.Fatalf("index: %v: %s", err, body)
	}
	if ix.Cols != 80 || ix.Rows != 24 || ix.Duration != 0.4 || ix.Live || len(ix.Chunks) == 0 {
		t.Errorf("index: %+v", ix)
	}
	if len(ix.Markers) != 1 || ix.Markers[0].Label != "done" || ix.Markers[0].At != 0.3 {
		t.Errorf("markers: %+v", ix.Markers)
	}
	var out int64
	for _, ch := range ix.Chunks {
		out += ch.Bytes
	}
	if out != int64(len("$ echo hello\r\nhello\r\n$ exit\r\n")) {
		t.Errorf("output bytes over the chunks: %d", out)
	}

	var text strings.Builder
	for n := range ix.Chunks {
		for range 3 { // a page seeking back and forth reads a chunk again
			res, body = c.get("/recordings/" + rec.ID + "/chunks/" + strconv.Itoa(n))
			if res.StatusCode != 200 {
				t.Fatalf("chunk %d: %d %s", n, res.StatusCode, body)
			}
		}
		var ch struct {
			N        int
			Keyframe playerKeyframe
			Events   [][3]any
		}
		if err := json.Unmarshal([]byte(body), &ch); err != nil {
			t.Fatalf("chunk %d: %v: %s", n, err, body)
		}
		if ch.N != n || ch.Keyframe.Cols != 80 || ch.Keyframe.Rows != 24 || len(ch.Events) != ix.Chunks[n].Events {
			t.Errorf("chunk %d: %+v", n, ch)
		}
		for _, ev := range ch.Events {
			if ev[1] == "o" {
				text.WriteString(ev[2].(string))
			}
		}
		res, body = c.get("/recordings/" + rec.ID + "/chunks/" + strconv.Itoa(n) + "?only=keyframe")
		if res.StatusCode != 200 || !strings.HasSuffix(body, `"events":[]}`) {
			t.Errorf("keyframe only: %d %s", res.StatusCode, body)
		}
	}
	if text.String() != "$ echo hello\r\nhello\r\n$ exit\r\n" {
		t.Errorf("the chunks' output: %q", text.String())
	}
	for _, bad := range []string{"-1", strconv.Itoa(len(ix.Chunks)), "x", "1e3", "99999999999999999999"} {
		if res, body := c.get("/recordings/" + rec.ID + "/chunks/" + bad); res.StatusCode != 404 || !strings.Contains(body, "no such chunk") {
			t.Errorf("chunk %s: %d %q", bad, res.StatusCode, body)
		}
	}
	if ev := auditOf(t, e, rec.ID); !slices.Equal(ev, []string{auditLine(audit.KindPlayback, "alice")}) {
		t.Errorf("audit after one page view: %v", ev)
	}
	// A client that skips the index is audited at its first chunk.
	other := e.client()
	other.login("alice", testPassword)
	other.get("/recordings/" + rec.ID + "/chunks/0")
	other.get("/recordings/" + rec.ID + "/chunks/0")
	if ev := auditOf(t, e, rec.ID); len(ev) != 2 {
		t.Errorf("audit after chunks without the index: %v", ev)
	}
}

// TestRecordingPageStyleNonce: the recording page's CSP admits <style>
// elements by a fresh nonce, the one on stylenonce.js's tag; scripts stay 'self'.
func TestRecordingPageStyleNonce(t *testing.T) {
	e := newEnv(t, nil)
	rec := e.addRecording(recording.Meta{}, sampleCast)
	c := e.client()
	c.login("alice", testPassword)
	nonces := map[string]bool{}
	for range 2 {
		res, body := c.get("/recordings/" + rec.ID)
		m := regexp.MustCompile(`<script src="/static/stylenonce.js" nonce="([A-Za-z0-9_-]{40,})"></script>`).FindStringSubmatch(body)
		if m == nil {
			t.Fatalf("no nonce on stylenonce.js's tag")
		}
		policy := res.Header.Get("Content-Security-Policy")
		if policy != playerCSP(m[1]) || !strings.Contains(policy, "script-src 'self';") || strings.Contains(policy, "eval") {
			t.Errorf("CSP %q for nonce %s", policy, m[1])
		}
		nonces[m[1]] = true
	}
	if len(nonces) != 2 {
		t.Error("the nonce is the same on two responses")
	}
}

// TestPlayerRoutesFollowTheFile: the open Readers the site keeps between
// requests never outlive their file: a recording whose file was purged is
// the usual 404, and a file replaced under the same path is read anew.
func TestPlayerRoutesFollowTheFile(t *testing.T) {
	e := newEnv(t, nil)
	rec := e.addRecording(recording.Meta{}, sampleCast)
	c := e.client()
	c.login("alice", testPassword)
	if res, _ := c.get("/recordings/" + rec.ID + "/index"); res.StatusCode != 200 {
		t.Fatalf("index: %d", res.StatusCode)
	}
	path := filepath.Join(e.dir, filepath.FromSlash(rec.Path))
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/index", "/chunks/0"} {
		if res, body := c.get("/recordings/" + rec.ID + p); res.StatusCode != 404 || !strings.Contains(body, "missing") {
			t.Errorf("%s after the file was removed: %d %q", p, res.StatusCode, body)
		}
	}
	longer := strings.Replace(sampleCast, `[0.4,"o","$ exit\r\n"]`, `[0.4,"o","$ exit\r\n"]`+"\n"+`[9.5,"o","later\r\n"]`, 1)
	if err := os.WriteFile(path, []byte(longer), 0o600); err != nil {
		t.Fatal(err)
	}
	res, body := c.get("/recordings/" + rec.ID + "/index")
	if res.StatusCode != 200 || !strings.Contains(body, `"duration":9.5`) {
		t.Errorf("index after the file was replaced: %d %s", res.StatusCode, body)
	}
}

// TestPlayerRoutesArchived: a recording archived by `recordings compact`
// (compressed, then .cast.zst) gives the player the same index and
// chunks as before.
func TestPlayerRoutesArchived(t *testing.T) {
	e := newEnv(t, nil)
	rec := e.addRecording(recording.Meta{}, sampleCast)
	c := e.client()
	c.login("alice", testPassword)
	get := func(p string) string {
		t.Helper()
		res, body := c.get("/recordings/" + rec.ID + p)
		if res.StatusCode != 200 {
			t.Fatalf("%s: %d %s", p, res.StatusCode, body)
		}
		return body
	}
	gz, err := e.casts.Compact(rec.ID, rec.Path, "")
	if err != nil {
		t.Fatal(err)
	}
	set := func(c recorder.Compacted) {
		t.Helper()
		rec.Path, rec.FileSize, rec.SHA256 = c.Path, c.Size, c.SHA256
		if err := e.store.FinishRecording(context.Background(), &rec); err != nil {
			t.Fatal(err)
		}
	}
	set(gz)
	before := []string{get("/index"), get("/chunks/0")}
	zst, err := e.casts.Archive(rec.ID, gz.Path)
	if err != nil {
		t.Fatal(err)
	}
	set(zst)
	after := []string{get("/index"), get("/chunks/0")}
	if !strings.Contains(after[1], `$ echo hello\r\n`) {
		t.Errorf("archived chunk 0: %s", after[1])
	}
	for i := range before {
		if before[i] != after[i] {
			t.Errorf("the player's view changed:\nbefore %s\nafter  %s", before[i], after[i])
		}
	}
}
