package proxy

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/jumpcast/jumpcast/config"
	"github.com/jumpcast/jumpcast/internal/audit"
)

// TestSessionEndCountsBytes: the "session ended" log line and audit event
// carry the bytes the admin sent and received, counted even when the
// recording failed to start (fail-open).
func TestSessionEndCountsBytes(t *testing.T) {
	for _, failStart := range []bool{false, true} {
		t.Run(fmt.Sprintf("recorder_fails=%v", failStart), func(t *testing.T) {
			f := newFixture(t, fixtureOpts{config: func(c *config.Config) { c.Recording.OnFailure = config.FailOpen }})
			if failStart {
				f.rec.failStart = errors.New("disk full")
			}
			c := f.dial(t, "root@t1")
			s := openRaw(t, c)
			// cat echoes the 11 input bytes; printf adds 6 on stderr.
			s.request("exec", true, execMsg{"cat; printf 'err!\\n\\n' >&2"})
			if _, err := s.ch.Write([]byte("hello world")); err != nil {
				t.Fatal(err)
			}
			_ = s.ch.CloseWrite()
			if r := s.wait(); string(r.stdout) != "hello world" || string(r.stderr) != "err!\n\n" {
				t.Fatalf("session: stdout %q stderr %q", r.stdout, r.stderr)
			}
			ev := f.audit.waitEvent(t, audit.KindSession, audit.OutcomeEnded)
			if ev.Detail[audit.DetailBytesIn] != "11" || ev.Detail[audit.DetailBytesOut] != "17" {
				t.Errorf("audit detail bytes in/out = %q/%q, want 11/17", ev.Detail[audit.DetailBytesIn], ev.Detail[audit.DetailBytesOut])
			}
			var line string
			for _, l := range strings.Split(f.logs.String(), "\n") {
				if strings.Contains(l, `msg="session ended"`) {
					line = l
				}
			}
			for _, want := range []string{"bytes.in=11", "bytes.out=17", "session_id=", "user=alice", "target=t1",
				"remote_user=root", "remote_addr=127.0.0.1:", "duration=", "exit_status=0"} {
				if !strings.Contains(line, want) {
					t.Errorf("session ended line lacks %s: %s", want, line)
				}
			}
		})
	}
}

func TestDialOutcome(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{nil, DialOK},
		{&adminError{Reason: audit.ReasonUnreachable}, DialUnreachable},
		{fmt.Errorf("wrapped: %w", &adminError{Reason: audit.ReasonHostKeyChanged}), DialHostKey},
		{&adminError{Reason: audit.ReasonHostKeyUnknown}, DialHostKey},
		{&adminError{Reason: audit.ReasonUpstreamAuth}, DialAuthFailed},
		{&adminError{Reason: audit.ReasonNotPermitted}, DialError},
		{errors.New("boom"), DialError},
	} {
		if got := dialOutcome(tc.err); got != tc.want {
			t.Errorf("dialOutcome(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}
