//go:build faults

package faulttest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
	gossh "golang.org/x/crypto/ssh"

	"github.com/jumpcast/jumpcast/config"
	"github.com/jumpcast/jumpcast/internal/recording"
)

const (
	leakSessions = 1000
	leakWarmup   = 20 // sessions before the baseline is taken (pools, caches)
	leakMaxRSSMB = 50 // RSS growth that fails the test
	leakKinds    = 4  // see leakSession
)

// TestNoLeaksAfterManySessions: 1,000 sequential sessions of four kinds
// (PTY exec with an exit status, exec without PTY with stderr and stdin,
// interactive shell, and a client that drops its connection mid-output),
// each on a new connection. Afterwards the bastion (and the target) have no
// goroutine beyond the baseline and RSS is back near where it started.
func TestNoLeaksAfterManySessions(t *testing.T) {
	// Reuse off: every session makes and tears down its own target
	// connection too, the path with the most to leak. (Kept connections
	// are covered by proxy/reuse_test.go under goleak.)
	b := newBastion(t, bastionOpts{noSync: true, config: func(c *config.Config) { c.Upstream.ReuseIdle = 0 }})
	rssStart := rssMB(t)
	for i := range leakWarmup {
		if err := leakSession(b, i); err != nil {
			t.Fatalf("warm-up session %d: %v", i, err)
		}
	}
	if err := b.waitFinalized(context.Background()); err != nil {
		t.Fatal(err)
	}
	base := goleak.IgnoreCurrent()
	g0, rss0 := runtime.NumGoroutine(), rssMB(t)
	began := time.Now()
	failures := 0
	for i := range leakSessions {
		if err := leakSession(b, leakWarmup+i); err != nil {
			failures++
			if failures <= 5 {
				t.Errorf("session %d (kind %d): %v", i, (leakWarmup+i)%leakKinds, err)
			}
		}
	}
	took := time.Since(began)
	if failures > 0 {
		t.Fatalf("%d of %d sessions failed", failures, leakSessions)
	}
	if err := b.waitFinalized(context.Background()); err != nil {
		t.Fatal(err)
	}
	checkLeakIndex(t, b)
	if err := goleak.Find(base); err != nil {
		t.Errorf("goroutines left after %d sessions:\n%v", leakSessions, err)
	}
	g1, rss1 := runtime.NumGoroutine(), rssMB(t)
	t.Logf("faulttest: leaks: %d sequential sessions (%d kinds, a new connection each) in %.1fs (%.1f ms each); "+
		"goroutines %d at baseline, %d after; RSS %.1f MiB at start, %.1f MiB after %d warm-up sessions, %.1f MiB after (%+.1f MiB)",
		leakSessions, leakKinds, took.Seconds(), float64(took.Milliseconds())/leakSessions, g0, g1,
		rssStart, rss0, leakWarmup, rss1, rss1-rss0)
	if rss1-rss0 > leakMaxRSSMB {
		t.Errorf("RSS grew by %.1f MiB over %d sessions (limit %d MiB)", rss1-rss0, leakSessions, leakMaxRSSMB)
	}
}

// checkLeakIndex: every session has a row, none is left active.
func checkLeakIndex(t *testing.T, b *bastion) {
	t.Helper()
	st, err := b.store.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if want := leakWarmup + leakSessions; st.Count != want || st.ByStatus[recording.StatusActive] != 0 {
		t.Errorf("index after %d sessions: %+v", want, st)
	}
}

// leakSession runs session i, of kind i%leakKinds, on a new connection.
func leakSession(b *bastion, i int) error {
	c, err := b.dial("root@t1")
	if err != nil {
		return err
	}
	defer func() { _ = c.Close() }()
	timer := time.AfterFunc(20*time.Second, func() { _ = c.Close() })
	defer timer.Stop()
	ch, reqs, err := c.OpenChannel("session", nil)
	if err != nil {
		return fmt.Errorf("open session: %w", err)
	}
	exitc := make(chan int, 1)
	go func() { exitc <- exitStatus(reqs) }() // owner: this session; ends when the channel or connection closes
	pty := ptyReq{Term: "xterm", Columns: 80, Rows: 24, Modes: "\x00"}
	marker := fmt.Sprintf("leak-%d-ok", i)
	switch i % leakKinds {
	case 0: // PTY exec with an exit status
		if err := requests(ch, "pty-req", pty, "exec", "echo "+marker+"; exit 3"); err != nil {
			return err
		}
		return expect(ch, exitc, marker, 3)
	case 1: // exec without a PTY: stdin to stdout, stderr too
		if err := requests(ch, "exec", "cat; echo "+marker+" >&2"); err != nil {
			return err
		}
		if _, err := ch.Write([]byte(marker + "\n")); err != nil {
			return err
		}
		_ = ch.CloseWrite()
		errOut := make(chan []byte, 1)
		go func() { e, _ := io.ReadAll(ch.Stderr()); errOut <- e }() // owner: this session; ends at the channel's EOF
		if err := expect(ch, exitc, marker, 0); err != nil {
			return err
		}
		if e := <-errOut; !bytes.Contains(e, []byte(marker)) {
			return fmt.Errorf("stderr %q", e)
		}
		return nil
	case 2: // interactive shell
		if err := requests(ch, "pty-req", pty, "shell", nil); err != nil {
			return err
		}
		if _, err := ch.Write([]byte("echo " + marker + "; exit\n")); err != nil {
			return err
		}
		return expect(ch, exitc, marker, 0)
	default: // the admin's connection drops mid-output
		if err := requests(ch, "pty-req", pty, "exec", "while :; do echo "+marker+"; done"); err != nil {
			return err
		}
		buf := make([]byte, 4096)
		var got []byte
		for !bytes.Contains(got, []byte(marker)) {
			n, err := ch.Read(buf)
			got = append(got, buf[:n]...)
			if err != nil {
				return fmt.Errorf("output %q: %w", got, err)
			}
		}
		_ = c.Close()
		<-exitc
		return nil
	}
}

// requests sends type/payload pairs on ch, each wanting a reply; a nil
// payload is empty and a string payload is an SSH string.
func requests(ch gossh.Channel, pairs ...any) error {
	for k := 0; k < len(pairs); k += 2 {
		typ := pairs[k].(string)
		var p []byte
		switch v := pairs[k+1].(type) {
		case nil:
		case string:
			p = gossh.Marshal(struct{ S string }{v})
		default:
			p = gossh.Marshal(v)
		}
		if ok, err := ch.SendRequest(typ, true, p); !ok || err != nil {
			return fmt.Errorf("%s refused (%v)", typ, err)
		}
	}
	return nil
}

// expect reads ch to EOF and checks the output holds marker and the exit
// status is code.
func expect(ch gossh.Channel, exitc <-chan int, marker string, code int) error {
	out, err := io.ReadAll(ch)
	if err != nil {
		return fmt.Errorf("read output: %w", err)
	}
	if got := <-exitc; got != code || !strings.Contains(string(out), marker) {
		return fmt.Errorf("exit %d (want %d), output %q", got, code, out)
	}
	return nil
}
