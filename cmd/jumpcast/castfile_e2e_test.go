package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jumpcast/jumpcast/internal/audit"
	"github.com/jumpcast/jumpcast/internal/recording"
	"github.com/jumpcast/jumpcast/recorder/asciicast/asciicasttest"
)

// TestRecordingFormats: a recording made in the raw format by an earlier
// server and one made compressed (the default) both list, play, export
// and verify; the compressed file is what zcat and asciinema read; play
// --from starts late in a recording; compact archives both (.cast.zst),
// checked, and they still export byte for byte, play and verify.
func TestRecordingFormats(t *testing.T) {
	e := startE2EWith(t, func(cfgPath string) { setFormat(t, cfgPath, "raw") })
	if _, errOut, code := e.ssh(t, "", "-tt", e.login(), "printf 'old raw session\\n'"); code != 0 {
		t.Fatalf("ssh: exit %d: %s", code, errOut)
	}
	recs := waitRecordings(t, e.cfgPath, 1, func(r recording.Meta) bool { return r.Status == recording.StatusFinished })
	old := recs[0]
	if !strings.HasSuffix(old.Path, ".cast") {
		t.Fatalf("raw format wrote %s", old.Path)
	}
	rawBytes, err := os.ReadFile(e.castPath(old))
	if err != nil {
		t.Fatal(err)
	}
	e.srv.Stop(t)
	setFormat(t, e.cfgPath, "compressed")
	e.srv = startServer(t, e.cfgPath)

	script := "printf 'early line\\n'; sleep 1.5; printf 'late line\\n'; seq 1 3000"
	if _, errOut, code := e.ssh(t, "", "-tt", e.login(), script); code != 0 {
		t.Fatalf("ssh: exit %d: %s", code, errOut)
	}
	recs = waitRecordings(t, e.cfgPath, 2, func(r recording.Meta) bool { return r.Status == recording.StatusFinished })
	var cur recording.Meta
	for _, r := range recs {
		if r.ID != old.ID {
			cur = r
		}
	}
	if !strings.HasSuffix(cur.Path, ".cast.gz") {
		t.Fatalf("default format wrote %s", cur.Path)
	}

	// The compressed file is what zcat reads; export gives the same.
	zcat, err := exec.Command("zcat", e.castPath(cur)).Output()
	if err != nil {
		t.Fatalf("zcat %s: %v", cur.Path, err)
	}
	exported := export(t, e, cur.ID)
	if !bytes.Equal(zcat, exported) || !bytes.Contains(exported, []byte("late line")) {
		t.Errorf("export (%d bytes) differs from zcat (%d bytes)", len(exported), len(zcat))
	}
	plain := filepath.Join(t.TempDir(), "export.cast")
	if err := os.WriteFile(plain, exported, 0o600); err != nil {
		t.Fatal(err)
	}
	if cat := asciinemaCat(t, plain); !strings.Contains(cat, "late line") || !strings.Contains(cat, "3000") {
		t.Errorf("asciinema cat of the export: %.300q", cat)
	}

	// The session wrote only the data; the server's background indexer
	// puts the index with its keyframes beside it once it is closed.
	idxPath := strings.TrimSuffix(e.castPath(cur), ".gz") + ".idx"
	deadline := time.Now().Add(30 * time.Second)
	for {
		b, _ := os.ReadFile(idxPath)
		if bytes.Contains(b, []byte(`"keyframe"`)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no keyframed index beside %s after 30 s: %.200q", cur.Path, b)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// The raw recording of the earlier server reads as before.
	if got := export(t, e, old.ID); !bytes.Equal(got, rawBytes) {
		t.Errorf("export of the raw recording: %d bytes, the file has %d", len(got), len(rawBytes))
	}
	checkVerify(t, e, "2 verified, 0 failed")
	for id, want := range map[string]string{old.ID: "old raw session", cur.ID: "late line"} {
		out, errOut, code := runJumpcast(t, "", "play", "--speed", "50", "--idle-limit", "10ms", "-c", e.cfgPath, id)
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("play %s: exit %d: %.200q %s", id, code, out, errOut)
		}
	}

	// --from starts at the moment: the screen then, then what followed.
	out, errOut, code := runJumpcast(t, "", "play", "--from", "1.4s", "--speed", "50", "-c", e.cfgPath, cur.ID)
	if code != 0 || !strings.Contains(out, "late line") || !strings.Contains(out, "early line") {
		t.Errorf("play --from 1.4s: exit %d: %.300q %s", code, out, errOut)
	}
	if _, errOut, code := runJumpcast(t, "", "play", "--from", "soon", "-c", e.cfgPath, cur.ID); code == 0 || !strings.Contains(errOut, "--from") {
		t.Errorf("play --from soon: exit %d: %s", code, errOut)
	}

	// compact archives both, the raw one through the compressed format,
	// each checked; they read the same after, keyframes kept.
	curPlain := export(t, e, cur.ID)
	out, errOut, code = runJumpcast(t, "", "recordings", "compact", "--all", "-c", e.cfgPath)
	if code != 0 || !strings.Contains(out, "2 compacted") {
		t.Fatalf("recordings compact --all: exit %d: %s %s", code, out, errOut)
	}
	t.Logf("recordings compact: %s", strings.TrimSpace(out))
	for _, gone := range []string{e.castPath(old), e.castPath(cur), idxPath} {
		if _, err := os.Stat(gone); !os.IsNotExist(err) {
			t.Errorf("%s is still there: %v", gone, err)
		}
	}
	for _, r := range listRecordings(t, e.cfgPath) {
		if !strings.HasSuffix(r.Path, ".cast.zst") {
			t.Errorf("%s: index names %s after compact", r.ID, r.Path)
			continue
		}
		want := map[string][]byte{old.ID: rawBytes, cur.ID: curPlain}[r.ID]
		if !bytes.Equal(asciicasttest.ReadFile(t, e.castPath(r)), want) { // Debian's zstdcat
			t.Errorf("%s: the archived recording does not decode to what it was", r.ID)
		}
		if got := export(t, e, r.ID); !bytes.Equal(got, want) {
			t.Errorf("export of %s after compact: %d bytes, it had %d", r.ID, len(got), len(want))
		}
		if r.ID == cur.ID {
			if b, err := os.ReadFile(e.castPath(r) + ".idx"); err != nil || !bytes.Contains(b, []byte(`"keyframe"`)) {
				t.Errorf("the archived index lost its keyframes: %v %.200q", err, b)
			}
		}
	}
	checkVerify(t, e, "2 verified, 0 failed")
	out, _, code = runJumpcast(t, "", "recordings", "grep", "old raw", "-c", e.cfgPath)
	if code != 0 || !strings.Contains(out, old.ID) {
		t.Errorf("recordings grep in the archived recording: exit %d: %s", code, out)
	}
	out, errOut, code = runJumpcast(t, "", "play", "--from", "1.4s", "--speed", "50", "-c", e.cfgPath, cur.ID)
	if code != 0 || !strings.Contains(out, "late line") || !strings.Contains(out, "early line") {
		t.Errorf("play --from 1.4s of the archived recording: exit %d: %.300q %s", code, out, errOut)
	}
	out, _, code = runJumpcast(t, "", "recordings", "compact", "--all", "-c", e.cfgPath)
	if code != 0 || !strings.Contains(out, "0 compacted") {
		t.Errorf("a second compact --all: exit %d: %s", code, out)
	}
}

// setFormat sets recording.format in the config file.
func setFormat(t *testing.T, cfgPath, format string) {
	t.Helper()
	b, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(b), "  format: raw\n", "", 1)
	s = strings.Replace(s, "recording:\n", "recording:\n  format: "+format+"\n", 1)
	if err := os.WriteFile(cfgPath, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}

func export(t *testing.T, e *e2e, id string) []byte {
	t.Helper()
	out, errOut, code := runJumpcast(t, "", "recordings", "export", id, "-c", e.cfgPath)
	if code != 0 {
		t.Fatalf("recordings export %s: exit %d: %s", id, code, errOut)
	}
	return []byte(out)
}

func checkVerify(t *testing.T, e *e2e, want string) {
	t.Helper()
	out, errOut, code := runJumpcast(t, "", "recordings", "verify", "-c", e.cfgPath)
	if code != 0 || !strings.Contains(out, want) {
		t.Errorf("recordings verify: exit %d: %s%s", code, out, errOut)
	}
}

// TestArchiveAfter: serve archives a closed, indexed recording
// recording.archive_after after it ended (here 0s, at the pass a restart
// makes): the index names the .cast.zst, which exports as before and
// verifies, and the audit trail has an archive event with both files'
// checksums. With archive_after off nothing is archived.
func TestArchiveAfter(t *testing.T) {
	e := startE2EWith(t, func(cfgPath string) { setRecording(t, cfgPath, "archive_after", "off") })
	if _, errOut, code := e.ssh(t, "", "-tt", e.login(), "seq 1 20000"); code != 0 {
		t.Fatalf("ssh: exit %d: %s", code, errOut)
	}
	rec := waitRecordings(t, e.cfgPath, 1, func(r recording.Meta) bool { return r.Status == recording.StatusFinished })[0]
	idxPath := strings.TrimSuffix(e.castPath(rec), ".gz") + ".idx"
	deadline := time.Now().Add(30 * time.Second)
	for b, _ := os.ReadFile(idxPath); !bytes.Contains(b, []byte(`"keyframe"`)); b, _ = os.ReadFile(idxPath) {
		if time.Now().After(deadline) {
			t.Fatalf("no keyframed index beside %s after 30 s", rec.Path)
		}
		time.Sleep(100 * time.Millisecond)
	}
	want := export(t, e, rec.ID)
	e.srv.Stop(t)
	e.srv = startServer(t, e.cfgPath)
	if got := listRecordings(t, e.cfgPath)[0]; got.Path != rec.Path {
		t.Fatalf("archive_after off: the index names %s", got.Path)
	}

	e.srv.Stop(t)
	setRecording(t, e.cfgPath, "archive_after", "0s")
	e.srv = startServer(t, e.cfgPath)
	archived := waitRecordings(t, e.cfgPath, 1, func(r recording.Meta) bool { return strings.HasSuffix(r.Path, ".cast.zst") })[0]
	if got := export(t, e, rec.ID); !bytes.Equal(got, want) {
		t.Errorf("export after archiving: %d bytes, %d before", len(got), len(want))
	}
	if archived.FileSize >= rec.FileSize {
		t.Errorf("archived %d bytes, compressed %d", archived.FileSize, rec.FileSize)
	}
	for _, gone := range []string{e.castPath(rec), idxPath} {
		if _, err := os.Stat(gone); !os.IsNotExist(err) {
			t.Errorf("%s is still there: %v", gone, err)
		}
	}
	checkVerify(t, e, "1 verified, 0 failed")
	lines := auditLines(t, e.cfgPath, "--kind", string(audit.KindArchive))
	if !strings.Contains(lines, rec.ID) || !strings.Contains(lines, rec.SHA256) || !strings.Contains(lines, archived.SHA256) {
		t.Errorf("no archive event with both checksums: %s", lines)
	}
}

// setRecording sets recording.<key> in the config file.
func setRecording(t *testing.T, cfgPath, key, value string) {
	t.Helper()
	b, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	lines = slices.DeleteFunc(lines, func(l string) bool { return strings.HasPrefix(l, "  "+key+":") })
	s := strings.Replace(strings.Join(lines, "\n"), "recording:\n", "recording:\n  "+key+": "+value+"\n", 1)
	if err := os.WriteFile(cfgPath, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}
