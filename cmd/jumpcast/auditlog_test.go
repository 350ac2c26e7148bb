package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/jumpcast/jumpcast/internal/audit"
	"github.com/jumpcast/jumpcast/internal/recording"
)

// TestAuditEventsAreLogged: with the default log.audit, a session through
// the real ssh client leaves its audit trail in the server's JSON log too —
// the login, the policy decision, the session's start and end, the end
// naming the recording — with the same fields as the stored events.
func TestAuditEventsAreLogged(t *testing.T) {
	e := startE2E(t)
	if out, errOut, code := e.ssh(t, "", e.login(), "echo logged"); code != 0 {
		t.Fatalf("ssh: exit %d %q %q", code, out, errOut)
	}
	recs := waitRecordings(t, e.cfgPath, 1, func(r recording.Meta) bool { return r.Status == recording.StatusFinished })
	type event struct {
		kind    audit.Kind
		outcome audit.Outcome
	}
	ended := event{audit.KindSession, audit.OutcomeEnded}
	want := map[event]bool{{audit.KindAuth, audit.OutcomeOK}: false, {audit.KindPolicy, audit.OutcomeAllowed}: false,
		{audit.KindSession, audit.OutcomeStarted}: false, ended: false}
	deadline := time.Now().Add(10 * time.Second)
	for {
		for _, line := range strings.Split(e.srv.Stderr.String(), "\n") {
			var m struct {
				Msg, User string
				Kind      audit.Kind
				Outcome   audit.Outcome
				Session   string `json:"session_id"`
			}
			if json.Unmarshal([]byte(line), &m) != nil || m.Msg != "audit" || m.User != "alice" {
				continue
			}
			k := event{m.Kind, m.Outcome}
			if _, ok := want[k]; ok && (k != ended || m.Session == recs[0].ID) {
				want[k] = true
			}
		}
		all := true
		for _, seen := range want {
			all = all && seen
		}
		if all {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("audit lines seen %v in the log:\n%s", want, e.srv.Stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
