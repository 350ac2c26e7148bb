package proxy

import (
	"strings"
	"testing"
	"time"

	"github.com/jumpcast/jumpcast/internal/audit"
)

// A target that drops its connection mid-session: the admin gets one line
// and 255, like ssh's own "Connection to HOST closed by remote host.", the
// recording ends with the reason, and the next session reconnects.
func TestTargetLostMidSession(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	c := f.dial(t, "root@t1")
	s := openRaw(t, c)
	s.request("exec", true, execMsg{"echo ready; sleep 30"})
	s.waitFor("ready\n")
	start := time.Now()
	f.target.CloseConnections()
	r := s.wait()
	t.Logf("admin told after %v", time.Since(start))
	want := "jumpcast: connection to t1 (" + f.target.Addr + ") lost\n"
	if string(r.stderr) != want || r.exit != "exit-status" || r.status != 255 {
		t.Errorf("stderr %q exit %s %d, want %q exit-status 255", r.stderr, r.exit, r.status, want)
	}
	if rec := f.rec.last(t); rec.exit == nil || rec.exit.Reason != string(audit.ReasonTargetLost) || rec.exit.Status != 255 {
		t.Errorf("recorded exit = %+v", rec.exit)
	}
	if ev := f.audit.waitEvent(t, audit.KindUpstream, audit.OutcomeLost); ev.Target != "t1" || ev.User != "alice" {
		t.Errorf("audit = %+v", ev)
	}
	if ev := f.audit.waitEvent(t, audit.KindSession, audit.OutcomeEnded); ev.Reason != audit.ReasonTargetLost {
		t.Errorf("session audit = %+v", ev)
	}
	// The same admin connection reaches the target again.
	s2 := openRaw(t, c)
	s2.request("exec", true, execMsg{"echo again"})
	if r := s2.wait(); string(r.stdout) != "again\n" || r.status != 0 {
		t.Errorf("next session: %q %q %d", r.stdout, r.stderr, r.status)
	}
}

// An admin who disconnects mid-session is recorded as such, not as a
// target that closed without an exit status or a lost connection.
func TestAdminGoneIsNotTargetLost(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	c := f.dial(t, "root@t1")
	s := openRaw(t, c)
	s.request("exec", true, execMsg{"echo ready; sleep 30"})
	s.waitFor("ready\n")
	_ = c.Close()
	rec := f.rec.last(t)
	if rec.exit == nil || rec.exit.Reason != string(audit.ReasonClientGone) || rec.exit.HasStatus {
		t.Errorf("recorded exit = %+v, want %q", rec.exit, audit.ReasonClientGone)
	}
	if strings.Contains(f.logs.String(), "target connection lost") {
		t.Error("admin's disconnect logged as a lost target")
	}
}
