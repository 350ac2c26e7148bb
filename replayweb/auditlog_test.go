package replayweb

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jumpcast/jumpcast/internal/audit"
	"github.com/jumpcast/jumpcast/store"
)

// seedAudit stores what a morning at the bastion leaves: refused logins
// from one address, sessions of two people, a lock.
func seedAudit(t *testing.T, e *env) {
	t.Helper()
	at := e.clock.Now().Add(-3 * time.Hour)
	add := func(ev audit.Event) {
		at = at.Add(time.Second)
		ev.Time = at
		if err := e.store.AppendAudit(t.Context(), ev); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 130; i++ {
		add(audit.AuthDenied(fmt.Sprintf("203.0.113.9:%d", 40000+i), "no authorized key"))
	}
	dan := audit.Who{User: "dan", RemoteAddr: "198.51.100.7:5000", Target: "db1", RemoteUser: "root"}
	add(audit.SessionStarted(dan, "20261124T070000.000000Z-0000000d", audit.Start{Kind: "shell"}))
	eve := audit.Who{User: "eve", RemoteAddr: "198.51.100.8:5000", Target: "web1", RemoteUser: "deploy"}
	add(audit.SessionStarted(eve, "20261124T070001.000000Z-0000000e", audit.Start{Kind: "exec", Command: "=HYPERLINK(\"http://evil\")"}))
	add(audit.SessionDenied(eve, audit.ReasonNotPermitted, "db1: not permitted for eve"))
	odd := eve
	odd.Target = "=1+2" // as typed: a refused login keeps what was typed
	add(audit.SessionDenied(odd, audit.ReasonNoTarget, "=1+2: no such target"))
}

// TestAuditLogPage: an auditor finds who was refused at the bastion, by
// kind, outcome and client address, pages through them, and each session
// links to its recording.
func TestAuditLogPage(t *testing.T) {
	e := newEnv(t, nil)
	seedAudit(t, e)
	c := e.client()
	c.login("alice", testPassword)

	res, body := c.get("/audit?kind=auth&outcome=denied&addr=203.0.113.9")
	if res.StatusCode != http.StatusOK || strings.Count(body, "<tr data-id=") != auditPageSize {
		t.Fatalf("first page: %d, %d rows", res.StatusCode, strings.Count(body, "<tr data-id="))
	}
	next := between(body, `id="next" href="`, `"`)
	if next == "" {
		t.Fatal("no next page")
	}
	res, body = c.get(strings.ReplaceAll(next, "&amp;", "&"))
	if res.StatusCode != http.StatusOK || strings.Count(body, "<tr data-id=") != 30 || strings.Contains(body, `id="next"`) {
		t.Errorf("second page: %d, %d rows", res.StatusCode, strings.Count(body, "<tr data-id="))
	}

	_, body = c.get("/audit?user=eve")
	if strings.Count(body, "<tr data-id=") != 3 || !strings.Contains(body, `href="/recordings/20261124T070001.000000Z-0000000e"`) ||
		!strings.Contains(body, "not permitted") {
		t.Errorf("eve's events:\n%.2000s", body)
	}
	_, body = c.get("/audit?target=db1&outcome=denied")
	if strings.Count(body, "<tr data-id=") != 0 {
		t.Errorf("target db1 denied: %d rows, want none (eve's refusal names her own target web1)", strings.Count(body, "<tr data-id="))
	}
	if res, _ := c.get("/audit?kind=nosuch"); res.StatusCode != http.StatusBadRequest {
		t.Errorf("unknown kind: %d, want 400", res.StatusCode)
	}
}

// TestAuditLogUserSeesOwn: a user account sees its own events only,
// whatever the query string asks.
func TestAuditLogUserSeesOwn(t *testing.T) {
	e := newEnv(t, nil)
	seedAudit(t, e)
	e.addAccount("dan", store.RoleUser)
	c := e.client()
	c.login("dan", testPassword)
	_, body := c.get("/audit?user=eve")
	if strings.Contains(body, "<td>eve</td>") || strings.Contains(body, "web1") || strings.Contains(body, "203.0.113.9") || strings.Count(body, "<tr data-id=") < 1 {
		t.Errorf("dan's audit log:\n%.2000s", body)
	}
	_, body = c.get("/audit?user=eve&format=jsonl")
	if strings.Contains(body, `"user":"eve"`) || !strings.Contains(body, `"user":"dan"`) {
		t.Errorf("dan's export: %q", body)
	}
}

// TestAuditLogExport: the filtered view exports as JSON lines (the
// stored format) and CSV, guarded against spreadsheet formulas, and the
// export is itself an audit event.
func TestAuditLogExport(t *testing.T) {
	e := newEnv(t, nil)
	seedAudit(t, e)
	c := e.client()
	c.login("alice", testPassword)
	res, body := c.get("/audit?kind=auth&format=jsonl")
	if ct := res.Header.Get("Content-Type"); res.StatusCode != http.StatusOK || ct != "application/x-ndjson" {
		t.Fatalf("jsonl: %d %q", res.StatusCode, ct)
	}
	n := 0
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		var ev audit.Event
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil || ev.Kind != audit.KindAuth {
			t.Fatalf("line %d: %v %+v", n, err, ev)
		}
		n++
	}
	if n != 130 {
		t.Errorf("%d auth events exported, want 130", n)
	}
	res, body = c.get("/audit?user=eve&format=csv")
	rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if err != nil || res.StatusCode != http.StatusOK || len(rows) != 4 {
		t.Fatalf("csv: %d, %v, %d rows", res.StatusCode, err, len(rows))
	}
	if rows[1][6] != "'=1+2" || strings.Contains(body, ",=") {
		t.Errorf("a formula reached the CSV unguarded: %q", rows[1])
	}
	var exports []audit.Event
	evs, _, err := e.store.ListAudit(t.Context(), store.AuditFilter{Kind: audit.KindAuditExport})
	if err != nil {
		t.Fatal(err)
	}
	exports = evs
	if len(exports) != 2 || exports[0].User != "alice" || exports[0].Detail[audit.DetailFormat] != "csv" {
		t.Errorf("export audit events: %+v", exports)
	}
}

func between(s, start, end string) string {
	i := strings.Index(s, start)
	if i < 0 {
		return ""
	}
	s = s[i+len(start):]
	j := strings.Index(s, end)
	if j < 0 {
		return ""
	}
	return s[:j]
}
