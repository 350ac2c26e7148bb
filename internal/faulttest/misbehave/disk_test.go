//go:build faults

package misbehave

import (
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jumpcast/jumpcast/config"
	"github.com/jumpcast/jumpcast/internal/audit"
	"github.com/jumpcast/jumpcast/internal/recording"
	"github.com/jumpcast/jumpcast/internal/sshtest"
	gossh "golang.org/x/crypto/ssh"
)

// smallDisk is a recordings folder whose file system fills up after a few
// MiB. As root (CI) it is a tmpfs of size bytes mounted by the test and
// unmounted at cleanup; elsewhere the test process gets an RLIMIT_FSIZE of
// size bytes (restored at cleanup), which fails a recording that grows
// past it with EFBIG the same way (Go ignores SIGXFSZ). free makes room
// again: it removes the filler file (tmpfs) or lifts the limit.
type smallDisk struct {
	path string
	kind string // "tmpfs" or "rlimit"
	free func()
}

func newSmallDisk(t *testing.T, size int64) smallDisk {
	path := filepath.Join(t.TempDir(), "recordings")
	if err := os.Mkdir(path, 0o700); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 && os.Getenv("JUMPCAST_FAULTS_NO_TMPFS") == "" {
		out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+strconv.FormatInt(size, 10)+",mode=0700", "tmpfs", path).CombinedOutput()
		if err == nil {
			t.Cleanup(func() {
				if out, err := exec.Command("umount", path).CombinedOutput(); err != nil {
					t.Errorf("umount %s: %v %s", path, err, out)
				}
			})
			// Half of it is taken by a filler file, so that freeing it
			// later makes room for the next sessions.
			filler := filepath.Join(path, "filler")
			if err := os.WriteFile(filler, make([]byte, size/2), 0o600); err != nil {
				t.Fatal(err)
			}
			return smallDisk{path: path, kind: "tmpfs", free: func() {
				_ = os.Remove(filler)
				_ = os.Remove(filler + "2")
			}}
		}
		t.Logf("no tmpfs (%v: %s); using RLIMIT_FSIZE", err, strings.TrimSpace(string(out)))
	}
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
		t.Fatal(err)
	}
	restore := func() { _ = syscall.Setrlimit(syscall.RLIMIT_FSIZE, &old) }
	// Only the soft limit moves, so that it can be raised again.
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &syscall.Rlimit{Cur: uint64(size), Max: old.Max}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(restore)
	return smallDisk{path: path, kind: "rlimit", free: restore}
}

// fill takes every free byte of a tmpfs disk with a second filler file.
func (d smallDisk) fill(t *testing.T) {
	t.Helper()
	if d.kind != "tmpfs" {
		t.Fatal("fill needs a tmpfs")
	}
	f, err := os.Create(filepath.Join(d.path, "filler2"))
	if err != nil {
		t.Fatal(err)
	}
	for err == nil {
		_, err = f.Write(make([]byte, 512))
	}
	_ = f.Close()
}

// floodCommand prints about 6 MB of text in 60 steps, then "end": base64
// of random bytes, which compression does not shrink below the disk.
const floodCommand = `i=0; while [ $i -lt 60 ]; do head -c 75000 /dev/urandom | base64 -w 0; echo; i=$((i+1)); sleep 0.01; done; echo end`

// The recordings disk fills up mid-session. fail-closed: the session ends
// with one line and 255, the failure is audited and the recording is
// marked failed (its file still valid up to the failure); while the disk is
// full new sessions are refused, and once there is room they run again.
// fail-open: the session runs to its end, the failure is audited and the
// recording marked failed; new sessions go on while the disk is full.
func TestDiskFullMidSession(t *testing.T) {
	for _, policy := range []string{config.FailClosed, config.FailOpen} {
		t.Run(policy, func(t *testing.T) {
			disk := newSmallDisk(t, 2<<20)
			id := sshtest.NewKeyPair(t)
			b := newBastion(t, bastionOpts{id: id, recDir: disk.path, targets: map[string]string{"t1": goodTarget(t, id).Addr},
				config: func(c *config.Config) { c.Recording.OnFailure = policy }})
			c, _ := b.dial("root@t1")
			r := b.exec(c, floodCommand, 60*time.Second)
			t.Logf("%s (%s): admin got %d bytes, status %d, stderr %q after %v",
				policy, disk.kind, len(r.stdout), r.status, strings.TrimSpace(r.stderr), r.took)
			ev := b.waitAudit(audit.KindRecording, audit.OutcomeError, nil)
			rec := b.lastRecording("t1")
			cs := b.readCast(rec)
			t.Logf("recording: status %s, error %q, file %d bytes, %d bytes of output recorded", rec.Status, rec.Error, rec.FileSize, cs.outLen)
			if ev.Detail[audit.DetailOnFailure] != policy || ev.SessionID != rec.ID {
				t.Errorf("audit = %+v", ev)
			}
			if rec.Status != recording.StatusFailed || rec.Error == "" || cs.outLen == 0 || int(cs.outLen) >= len(r.stdout) && policy == config.FailOpen {
				t.Errorf("recording = %+v (output %d bytes)", rec, cs.outLen)
			}
			if policy == config.FailClosed {
				if r.stderr != "jumpcast: recording failed; session ended\n" || r.status != 255 || strings.HasSuffix(r.stdout, "end\n") {
					t.Errorf("fail-closed session: stderr %q status %d, ran to its end: %v", r.stderr, r.status, strings.HasSuffix(r.stdout, "end\n"))
				}
				if disk.kind == "tmpfs" { // RLIMIT_FSIZE limits each file, not the folder
					refusedWhileFull(t, b, c, disk)
				}
				disk.free()
			} else if r.stderr != "" || r.status != 0 || !strings.HasSuffix(r.stdout, "end\n") || len(r.stdout) < 6_000_000 {
				t.Errorf("fail-open session: stderr %q status %d, %d bytes", r.stderr, r.status, len(r.stdout))
			}
			_ = c.Close()
			b.healthy("root@t1")
		})
	}
}

// refusedWhileFull checks that, under fail-closed, a session that cannot
// start its recording on a full disk is refused in one line.
func refusedWhileFull(t *testing.T, b *bastion, c *gossh.Client, disk smallDisk) {
	t.Helper()
	// The failed recording was cut back to its last whole line: take the
	// few KiB that freed too.
	disk.fill(t)
	r := b.exec(c, "echo while full", 10*time.Second)
	t.Logf("while full: %q status %d", strings.TrimSpace(r.stderr), r.status)
	if !strings.HasPrefix(r.stderr, "jumpcast: recording unavailable: ") ||
		strings.Count(r.stderr, "\n") != 1 || r.status != 255 || r.stdout != "" {
		t.Errorf("session while the disk is full: %+v", r)
	}
}

// The free-space floor above what the recordings disk has: a new session
// is refused with one line and 255 before anything is written, and the
// refusal is audited.
func TestFreeSpaceFloor(t *testing.T) {
	recDir := filepath.Join(t.TempDir(), "recordings")
	if err := os.Mkdir(recDir, 0o700); err != nil {
		t.Fatal(err)
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(recDir, &st); err != nil {
		t.Fatal(err)
	}
	free := uint64(st.Bavail) * uint64(st.Bsize)
	floor := free + 1<<30
	id := sshtest.NewKeyPair(t)
	b := newBastion(t, bastionOpts{id: id, recDir: recDir, targets: map[string]string{"t1": goodTarget(t, id).Addr},
		config: func(c *config.Config) { c.Recording.MinFreeSpace = config.ByteSize(floor) }})
	c, _ := b.dial("root@t1")
	r := b.exec(c, "echo should not run", 10*time.Second)
	t.Logf("floor %d MiB, free %d MiB: admin told %q, status %d, after %v", floor>>20, free>>20, strings.TrimSpace(r.stderr), r.status, r.took)
	if !strings.HasPrefix(r.stderr, "jumpcast: recording unavailable: ") || !strings.Contains(r.stderr, "free-space floor") ||
		strings.Count(r.stderr, "\n") != 1 || r.status != 255 || r.stdout != "" {
		t.Errorf("admin saw %+v", r)
	}
	ev := b.waitAudit(audit.KindRecording, audit.OutcomeError, nil)
	if !strings.Contains(string(ev.Reason), "free-space floor") || ev.Detail[audit.DetailOnFailure] != config.FailClosed {
		t.Errorf("audit = %+v", ev)
	}
	entries, err := os.ReadDir(recDir)
	if err != nil || len(entries) != 0 {
		t.Errorf("recordings folder after the refusal: %v %v", entries, err)
	}
}

// The disk fills while a fail-closed session is idle: the bit of output
// that follows stays in the recorder's buffer until its flush timer, whose
// failure must still end the session (not the next output, which an idle
// session may never make) within the flush interval.
func TestDiskFullWhileIdle(t *testing.T) {
	const flush = 200 * time.Millisecond
	disk := newSmallDisk(t, 2<<20)
	if disk.kind != "tmpfs" {
		t.Skip("needs a tmpfs (root): RLIMIT_FSIZE cannot fill the disk under an idle recording")
	}
	id := sshtest.NewKeyPair(t)
	b := newBastion(t, bastionOpts{id: id, recDir: disk.path, targets: map[string]string{"t1": goodTarget(t, id).Addr},
		config: func(c *config.Config) { c.Recording.FlushInterval = flush }})
	c, _ := b.dial("root@t1")
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	stdin, err := s.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out, errOut sshtest.SyncBuffer
	s.Stdout, s.Stderr = &out, &errOut
	if err := s.Start(`echo ready; read line; echo "got $line"; exec sleep 30`); err != nil {
		t.Fatal(err)
	}
	waitOutput(t, &out, "ready\n")
	time.Sleep(3 * flush) // "ready" is on disk
	disk.fill(t)
	start := time.Now()
	// 8 KiB: more than the page the file already has on the tmpfs, less
	// than the recorder writes at once without its timer; random, so
	// that compressed it is still more than a page.
	if _, err := stdin.Write([]byte("hello" + randomText(8<<10) + "\n")); err != nil {
		t.Fatal(err)
	}
	status := exitStatus(t, waitSession(t, s, 10*time.Second))
	took := time.Since(start)
	t.Logf("idle session on a full disk: admin told %q, status %d, %v after its last output (flush interval %v)",
		strings.TrimSpace(errOut.String()), status, took, flush)
	if errOut.String() != "jumpcast: recording failed; session ended\n" || status != 255 || !strings.Contains(out.String(), "got hello") {
		t.Errorf("admin saw stdout %q stderr %q status %d", out.String(), errOut.String(), status)
	}
	if took > flush+slack {
		t.Errorf("the session went on %v after the recording failed", took)
	}
	b.waitAudit(audit.KindRecording, audit.OutcomeError, func(ev audit.Event) bool { return ev.Detail[audit.DetailOnFailure] == config.FailClosed })
	if rec := b.lastRecording("t1"); rec.Status != recording.StatusFailed || !strings.Contains(rec.Error, "no space left") {
		t.Errorf("recording = %+v", rec)
	}
	_ = c.Close()
	disk.free()
	b.healthy("root@t1")
}

// randomText returns n random letters and digits.
func randomText(n int) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[rand.IntN(len(alphabet))]
	}
	return string(b)
}
