package main

import (
	"strings"
	"testing"
	"time"

	"github.com/jumpcast/jumpcast/internal/audit"
	"github.com/jumpcast/jumpcast/internal/auditsyslog/syslogtest"
)

// TestServeSendsTheAuditTrailToSyslog: with log.syslog set, an SSH
// session through `jumpcast serve` reaches a real rsyslogd as its audit
// events (login, decision, session started and ended), each the event's
// JSON with its kind as MSGID.
func TestServeSendsTheAuditTrailToSyslog(t *testing.T) {
	col := syslogtest.StartCollector(t, syslogtest.FreePort(t), nil)
	e := startE2EWith(t, func(cfgPath string) {
		addConfigSection(t, cfgPath, "log:\n  syslog:\n    address: tcp://"+col.Addr+"\n")
	})
	if out, errOut, code := e.ssh(t, "", e.login(), "echo to-the-siem"); code != 0 || !strings.Contains(out, "to-the-siem") {
		t.Fatalf("ssh: exit %d %q %q", code, out, errOut)
	}
	// Events arrive in the order they were stored; the session's end is
	// the last of them.
	var ids []string
	ended := waitFor(15*time.Second, func() bool {
		var evs []audit.Event
		ids, evs = col.Read(t)
		for _, ev := range evs {
			if ev.Kind == audit.KindSession && ev.Outcome == audit.OutcomeEnded && ev.SessionID != "" {
				return true
			}
		}
		return false
	})
	if !ended {
		t.Errorf("no session ended event with its recording id among %q", ids)
	}
	kinds := strings.Join(ids, " ")
	for _, k := range []audit.Kind{audit.KindAuth, audit.KindPolicy, audit.KindSession} {
		if !strings.Contains(kinds, string(k)) {
			t.Errorf("the collector got %q, no %s event", kinds, k)
		}
	}
}
