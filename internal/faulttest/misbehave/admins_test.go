//go:build faults

package misbehave

import (
	"errors"
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jumpcast/jumpcast/config"
	"github.com/jumpcast/jumpcast/internal/audit"
	"github.com/jumpcast/jumpcast/internal/recording"
	"github.com/jumpcast/jumpcast/internal/sshtest"
	gossh "golang.org/x/crypto/ssh"
)

// An admin whose TCP connection vanishes mid-output (no EOF, no channel
// close, no SSH goodbye): the target's session is closed within a bound,
// the recording is finalized as finished with the reason and stays a
// valid file, and the bastion serves the next admin.
func TestAdminVanishesMidOutput(t *testing.T) {
	id := sshtest.NewKeyPair(t)
	tg := goodTarget(t, id)
	b := newBastion(t, bastionOpts{id: id, targets: map[string]string{"t1": tg.Addr}})
	c, conn := b.dial("root@t1")
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.RequestPty("xterm", 24, 80, gossh.TerminalModes{}); err != nil {
		t.Fatal(err)
	}
	out, err := s.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start("yes 'output that never stops'"); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadFull(out, make([]byte, 256<<10))
	if err != nil {
		t.Fatalf("read output: %v", err)
	}
	if tg.ActiveSessions() != 1 {
		t.Fatalf("target sessions = %d, want 1", tg.ActiveSessions())
	}
	start := time.Now()
	_ = conn.Close() // under the client: it never sends EOF or close
	for tg.ActiveSessions() != 0 {
		if time.Since(start) > slack {
			t.Fatalf("target session still open %v after the admin vanished", time.Since(start))
		}
		time.Sleep(5 * time.Millisecond)
	}
	closed := time.Since(start)
	rec := b.lastRecording("t1")
	final := time.Since(start)
	cs := b.readCast(rec)
	t.Logf("admin vanished after %d KiB: target channel closed in %v, recording finalized in %v (%d bytes of output recorded, %d events)",
		got>>10, closed, final, cs.outLen, cs.events)
	if rec.Status != recording.StatusFinished || rec.ExitStatus != nil || rec.SHA256 == "" ||
		!contains(cs.markers, "[session ended: client disconnected]") || cs.cut || cs.outLen < int64(got) {
		t.Errorf("recording %+v markers %q cut %v output %d", rec, cs.markers, cs.cut, cs.outLen)
	}
	b.waitAudit(audit.KindSession, audit.OutcomeEnded, func(ev audit.Event) bool { return ev.Reason == audit.ReasonClientGone })
	b.healthy("root@t1")
}

// Slowloris: many TCP connections from one address that dribble an SSH
// version line and never finish the handshake. The bastion admits no more
// than one address's share of the unauthenticated cap (all but a quarter;
// the rest are closed at once), drops every one of them by the handshake timeout,
// and a legitimate admin from another address gets in while they are held. The single-connection cases are
// TestHandshakeTimeout and TestUnauthenticatedCap in proxy/limits_test.go.
func TestSlowloris(t *testing.T) {
	const attackers, unauthCap = 100, 8
	id := sshtest.NewKeyPair(t)
	b := newBastion(t, bastionOpts{id: id, targets: map[string]string{"t1": goodTarget(t, id).Addr},
		config: func(c *config.Config) { c.SSH.MaxUnauthenticated = unauthCap }})
	type fate struct {
		banner bool          // the bastion spoke: the connection was admitted
		closed time.Duration // when the bastion closed it
	}
	fates := make([]fate, attackers)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range attackers {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}, Timeout: 5 * time.Second}
		conn, err := d.Dial("tcp", b.addr)
		if err != nil {
			t.Fatalf("attacker %d: %v", i, err)
		}
		wg.Add(2)
		go func() { // owner: the test; the slow talker, ends when the bastion hangs up
			defer wg.Done()
			for _, c := range []byte("SSH-2.0-slowloris") {
				if _, err := conn.Write([]byte{c}); err != nil {
					return
				}
				time.Sleep(100 * time.Millisecond)
			}
		}()
		go func() { // owner: the test; the listener, ends when the bastion hangs up
			defer wg.Done()
			defer conn.Close()
			_ = conn.SetReadDeadline(time.Now().Add(adminHSTimeout + 2*slack))
			n, _ := io.Copy(io.Discard, conn)
			fates[i] = fate{banner: n > 0, closed: time.Since(start)}
		}()
	}
	// While the slots are taken, a legitimate admin keeps trying.
	var admitted time.Duration
	for {
		c, _, err := b.tryDial("root@t1", 5*time.Second)
		if err == nil {
			admitted = time.Since(start)
			_ = c.Close()
			break
		}
		if time.Since(start) > adminHSTimeout+2*slack {
			t.Fatalf("the admin never got in: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	wg.Wait()
	var held int
	var lastClose time.Duration
	for _, f := range fates {
		if f.banner {
			held++
		}
		lastClose = max(lastClose, f.closed)
	}
	t.Logf("slowloris: %d connections, %d admitted (cap %d), all closed after %v (handshake timeout %v); the admin got in after %v",
		attackers, held, unauthCap, lastClose.Round(time.Millisecond), adminHSTimeout, admitted.Round(time.Millisecond))
	if share := unauthCap - unauthCap/4; held > share || held == 0 {
		t.Errorf("%d slow connections admitted from one address, want 1..%d (all but a quarter of the cap)", held, share)
	}
	if lastClose > adminHSTimeout+slack {
		t.Errorf("a slow connection was kept %v", lastClose)
	}
	if admitted >= adminHSTimeout {
		t.Errorf("the admin waited %v: locked out until the slow connections timed out", admitted)
	}
	b.healthy("root@t1")
}

// 1,000 session channels opened on one connection: the per-connection
// limit accepts the first ones and rejects the rest at once with a
// reason, no goroutine is left per rejected open, the accepted channels
// work, and the bastion serves others. TestChannelCap in
// proxy/bridge_test.go checks the reason for a cap of 2.
func TestThousandChannels(t *testing.T) {
	const opens, perConn = 1000, 10
	id := sshtest.NewKeyPair(t)
	b := newBastion(t, bastionOpts{id: id, targets: map[string]string{"t1": goodTarget(t, id).Addr},
		config: func(c *config.Config) { c.SSH.MaxChannelsPerConnection = perConn }})
	c, _ := b.dial("root@t1")
	goroutines := runtime.NumGoroutine()
	start := time.Now()
	var open []gossh.Channel
	rejected := 0
	for i := range opens {
		ch, reqs, err := c.OpenChannel("session", nil)
		if err != nil {
			var oce *gossh.OpenChannelError
			if !errors.As(err, &oce) || oce.Reason != gossh.ResourceShortage || !strings.Contains(oce.Message, "too many channels") {
				t.Fatalf("open %d: %v", i, err)
			}
			rejected++
			continue
		}
		go gossh.DiscardRequests(reqs) // owner: the test; ends when ch closes
		open = append(open, ch)
	}
	took := time.Since(start)
	grown := runtime.NumGoroutine() - goroutines
	t.Logf("1000 channel opens in %v: %d accepted, %d rejected; goroutines +%d", took.Round(time.Millisecond), len(open), rejected, grown)
	if len(open) != perConn || rejected != opens-perConn {
		t.Errorf("accepted %d, rejected %d; limit %d", len(open), rejected, perConn)
	}
	if grown > 20*perConn {
		t.Errorf("goroutines grew by %d for %d open channels", grown, perConn)
	}
	for _, ch := range open { // a channel taken at the cap is useful
		_ = ch.Close()
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		s, err := c.NewSession()
		if err == nil {
			out, err := s.Output("echo after")
			_ = s.Close()
			if err != nil || string(out) != "after\n" {
				t.Errorf("session after the flood: %q %v", out, err)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no channel after closing the flood: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	b.healthy("root@t1")
}
