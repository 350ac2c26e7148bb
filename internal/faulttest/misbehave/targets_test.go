//go:build faults

package misbehave

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jumpcast/jumpcast/internal/audit"
	"github.com/jumpcast/jumpcast/internal/recording"
	"github.com/jumpcast/jumpcast/internal/sshtest"
	gossh "golang.org/x/crypto/ssh"
)

// Targets that fail before a session exists: each admin gets one line and
// 255 within the configured timeout, the failure is audited, and the
// bastion then serves a good target.
func TestTargetsThatFailToConnect(t *testing.T) {
	id := sshtest.NewKeyPair(t)
	good := goodTarget(t, id)
	addrs := map[string]string{
		"good":      good.Addr,
		"refuses":   closedAddr(t),
		"blackhole": blackhole(t),
		"silent":    silentTarget(t).Addr,
		"hangup":    hangupTarget(t).Addr,
	}
	b := newBastion(t, bastionOpts{targets: addrs, id: id})
	cases := []struct {
		alias, msg string
		limit      time.Duration // the configured timeout that bounds it
	}{
		{"refuses", "connection refused", 0},
		{"blackhole", "connection timed out", dialTimeout},
		{"silent", "ssh handshake timed out", upstreamHSTimout},
		{"hangup", "ssh handshake failed", 0},
	}
	for _, tc := range cases {
		t.Run(tc.alias, func(t *testing.T) {
			// The bastion connects to the target during the admin's login
			// (for a password-only target's prompt): the wait is the login's
			// and the session's together.
			start := time.Now()
			c, _ := b.dial("root@" + tc.alias)
			r := b.exec(c, "echo unreachable", tc.limit+slack)
			r.took = time.Since(start)
			want := "jumpcast: " + tc.alias + " (" + addrs[tc.alias] + "): " + tc.msg + "\n"
			t.Logf("%s: admin told %q after %v (timeout %v)", tc.alias, strings.TrimSpace(r.stderr), r.took, tc.limit)
			if r.stderr != want || r.status != 255 || r.stdout != "" {
				t.Errorf("admin saw stderr %q status %d stdout %q, want %q and 255", r.stderr, r.status, r.stdout, want)
			}
			if tc.limit > 0 && r.took < tc.limit*9/10 {
				t.Errorf("gave up after %v, before the %v timeout", r.took, tc.limit)
			}
			ev := b.waitAudit(audit.KindUpstream, audit.OutcomeError, func(ev audit.Event) bool { return ev.Target == tc.alias })
			if ev.Reason != audit.ReasonUnreachable || ev.User != "alice" || ev.Detail[audit.DetailMessage] == "" {
				t.Errorf("audit = %+v", ev)
			}
			_ = c.Close()
			b.healthy("root@good")
		})
	}
}

// targetLostMessage is the admin's line when the target drops mid-session.
func targetLostMessage(alias, addr string) string {
	return "jumpcast: connection to " + alias + " (" + addr + ") lost\n"
}

// A target that dies mid-session, in-process (its TCP connections cut) and
// as a real sshd (its session processes killed): the admin gets one line
// and 255 at once, the recording is finalized with the reason, and the
// same target serves the next session.
func TestTargetDiesMidSession(t *testing.T) {
	for _, kind := range []string{"in-process", "openssh"} {
		t.Run(kind, func(t *testing.T) {
			id := sshtest.NewKeyPair(t)
			var addr, login string
			var kill func(parentPID int)
			if kind == "in-process" {
				tg := goodTarget(t, id)
				addr, login = tg.Addr, "root@dies"
				kill = func(int) { tg.CloseConnections() }
			} else {
				sshd := sshtest.StartSSHD(t, sshtest.SSHDOptions{AuthorizedKeys: []gossh.PublicKey{id.Public}})
				addr, login = sshd.Addr, sshd.User()+"@dies"
				kill = killSessionProcesses(t, sshd)
			}
			b := newBastion(t, bastionOpts{targets: map[string]string{"dies": addr}, id: id})
			c, _ := b.dial(login)
			s, err := c.NewSession()
			if err != nil {
				t.Fatal(err)
			}
			var out, errOut sshtest.SyncBuffer
			s.Stdout, s.Stderr = &out, &errOut
			if err := s.Start("echo $PPID; echo ready; exec sleep 30"); err != nil {
				t.Fatal(err)
			}
			waitOutput(t, &out, "ready\n")
			ppid, _ := strconv.Atoi(strings.Fields(out.String())[0])
			start := time.Now()
			kill(ppid)
			status := exitStatus(t, waitSession(t, s, 10*time.Second))
			took := time.Since(start)
			t.Logf("%s: admin told %q, status %d, after %v", kind, strings.TrimSpace(errOut.String()), status, took)
			if got, want := errOut.String(), targetLostMessage("dies", addr); got != want || status != 255 {
				t.Errorf("admin saw %q status %d, want %q 255", got, status, want)
			}
			if took > slack {
				t.Errorf("admin told after %v", took)
			}
			b.waitAudit(audit.KindUpstream, audit.OutcomeLost, func(ev audit.Event) bool { return ev.Target == "dies" })
			b.waitAudit(audit.KindSession, audit.OutcomeEnded, func(ev audit.Event) bool { return ev.Reason == audit.ReasonTargetLost })
			rec := b.lastRecording("dies")
			cs := b.readCast(rec)
			if rec.Status != recording.StatusFinished || rec.ExitStatus == nil || *rec.ExitStatus != 255 ||
				cs.exit != "255" || !contains(cs.markers, "[session ended: target connection lost]") ||
				!strings.Contains(string(cs.output), "ready") {
				t.Errorf("recording %+v, cast exit %q markers %q output %q", rec, cs.exit, cs.markers, cs.output)
			}
			_ = c.Close()
			b.healthy(login)
		})
	}
}

// killSessionProcesses returns a kill for a session of a real sshd: the
// shell reported its parent (the session's "sshd: user@notty"); that
// process and its ancestors below the test's sshd listener (the
// connection's privileged monitor) get SIGKILL, so the kernel closes the
// TCP connection under sshd — a crash, with no SSH goodbye. The listener
// keeps running.
func killSessionProcesses(t *testing.T, sshd *sshtest.SSHD) func(int) {
	return func(pid int) {
		b, err := os.ReadFile(filepath.Join(sshd.Dir, "sshd.pid"))
		if err != nil {
			t.Fatalf("sshd pid: %v", err)
		}
		listener, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		var chain []int
		for p := pid; p > 1 && p != listener; p = parentOf(p) {
			chain = append(chain, p)
		}
		if len(chain) == 0 || parentOf(chain[len(chain)-1]) != listener {
			t.Fatalf("session process %d is not under the test's sshd %d", pid, listener)
		}
		for _, p := range chain {
			_ = syscall.Kill(p, syscall.SIGKILL)
		}
	}
}

func parentOf(pid int) int {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 2 {
		return 0
	}
	p, _ := strconv.Atoi(f[1])
	return p
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func waitOutput(t *testing.T, b *sshtest.SyncBuffer, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(b.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("output never contained %q: %q", want, b.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func waitSession(t *testing.T, s *gossh.Session, limit time.Duration) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- s.Wait() }() // owner: waitSession; ends with the session
	select {
	case err := <-done:
		return err
	case <-time.After(limit):
		t.Fatalf("session did not end within %v", limit)
		return nil
	}
}

// A target that sends 100 MB at once: the admin receives every byte, the
// recording holds exactly those bytes, and the bastion's heap stays
// bounded by the channel windows, not by the burst.
func TestTargetBurst100MB(t *testing.T) {
	const size = 100_000_000
	id := sshtest.NewKeyPair(t)
	b := newBastion(t, bastionOpts{targets: map[string]string{"burst": goodTarget(t, id).Addr}, id: id})
	c, _ := b.dial("root@burst")
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := s.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var errOut sshtest.SyncBuffer
	s.Stderr = &errOut
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	peak, stop := sampleHeap()
	start := time.Now()
	if err := s.Start("yes 'jumpcast burst 0123456789 abcdefghijklmnopqrstuvwxyz ÄÖÜ 日本語' | head -c " + strconv.Itoa(size)); err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	n, err := io.Copy(h, stdout)
	if err != nil {
		t.Fatalf("read burst: %v", err)
	}
	status := exitStatus(t, waitSession(t, s, 60*time.Second))
	took := time.Since(start)
	stop()
	grow := int64(peak.Load()) - int64(before.HeapInuse)
	t.Logf("burst: %d bytes in %v (%.0f MB/s); heap in use %d MiB before, peak %d MiB (+%d MiB) — bastion, target, client and recorder in one process",
		n, took.Round(time.Millisecond), float64(n)/took.Seconds()/1e6, before.HeapInuse>>20, peak.Load()>>20, grow>>20)
	if n != size || status != 0 || errOut.String() != "" {
		t.Fatalf("admin received %d bytes (want %d), status %d, stderr %q", n, size, status, errOut.String())
	}
	if grow > 64<<20 {
		t.Errorf("heap grew by %d MiB during a %d MB burst", grow>>20, size/1_000_000)
	}
	rec := b.lastRecording("burst")
	cs := b.readCast(rec)
	t.Logf("recording: %d events, file %d bytes, index bytes_out %d", cs.events, rec.FileSize, rec.BytesOut)
	if got := hex.EncodeToString(h.Sum(nil)); cs.outSHA != got || cs.outLen != size {
		t.Errorf("recording holds %d bytes (sha %s), the admin got %d (sha %s)", cs.outLen, cs.outSHA, n, got)
	}
	if rec.Status != recording.StatusFinished || rec.BytesOut != size || cs.exit != "0" || cs.cut {
		t.Errorf("recording = %+v, exit %q, cut %v", rec, cs.exit, cs.cut)
	}
	_ = c.Close()
	b.healthy("root@burst")
}

// sampleHeap records the peak HeapInuse every 50 ms until stop is called.
func sampleHeap() (peak *atomic.Uint64, stop func()) {
	peak = &atomic.Uint64{}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // owner: sampleHeap's caller; ends at stop
		defer wg.Done()
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			if m.HeapInuse > peak.Load() {
				peak.Store(m.HeapInuse)
			}
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	return peak, func() { close(done); wg.Wait() }
}

// A target that stops reading its session channel: the admin's writes
// block once the windows are full (no unbounded buffering in the
// bastion), other sessions go on, and when the target finally drops the
// connection the admin is told in one line.
func TestTargetStallsWindow(t *testing.T) {
	id := sshtest.NewKeyPair(t)
	stall := stallTarget(t, id)
	b := newBastion(t, bastionOpts{id: id, targets: map[string]string{"stall": stall.Addr, "good": goodTarget(t, id).Addr}})
	c, _ := b.dial("root@stall")
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
	if err := s.Start("cat"); err != nil {
		t.Fatal(err)
	}
	waitOutput(t, &out, "ready\n")
	var written atomic.Int64
	writerDone := make(chan error, 1)
	go func() { // owner: the test; ends when the session closes under it
		chunk := make([]byte, 32<<10)
		for {
			n, err := stdin.Write(chunk)
			written.Add(int64(n))
			if err != nil {
				writerDone <- err
				return
			}
		}
	}()
	// Wait until the admin's writes stop making progress.
	last, still := int64(-1), time.Now()
	for deadline := time.Now().Add(15 * time.Second); ; {
		time.Sleep(100 * time.Millisecond)
		if w := written.Load(); w != last {
			last, still = w, time.Now()
		} else if time.Since(still) > 500*time.Millisecond {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the admin's writes never blocked: %d bytes written", written.Load())
		}
	}
	t.Logf("stall: the admin's writes blocked after %d KiB", last>>10)
	if last > 16<<20 {
		t.Errorf("%d MiB accepted from the admin for a target that reads nothing", last>>20)
	}
	start := time.Now()
	b.healthy("root@good")
	t.Logf("stall: another session served in %v meanwhile", time.Since(start))

	start = time.Now()
	stall.Drop()
	status := exitStatus(t, waitSession(t, s, 10*time.Second))
	t.Logf("stall: admin told %q, status %d, %v after the drop", strings.TrimSpace(errOut.String()), status, time.Since(start))
	if got, want := errOut.String(), targetLostMessage("stall", stall.Addr); got != want || status != 255 {
		t.Errorf("admin saw %q status %d, want %q 255", got, status, want)
	}
	select {
	case <-writerDone:
	case <-time.After(5 * time.Second):
		t.Error("the admin's blocked write never returned")
	}
	b.waitAudit(audit.KindUpstream, audit.OutcomeLost, func(ev audit.Event) bool { return ev.Target == "stall" })
	if rec := b.lastRecording("stall"); rec.Status != recording.StatusFinished || rec.BytesIn < last/4 {
		t.Errorf("recording = %+v", rec)
	}
	_ = c.Close()
}
