package replayweb

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/jumpcast/jumpcast/internal/audit"
	"github.com/jumpcast/jumpcast/internal/recording"
	"github.com/jumpcast/jumpcast/store"
)

func castWith(lines ...string) string {
	return `{"version": 2, "width": 80, "height": 24}` + "\n" + strings.Join(lines, "\n") + "\n"
}

// TestScreenSearch: "On screen" keeps the recordings of the page whose
// output, as the terminal showed it, contains the text (case folded), each
// with its first matching line linked to the moment it was complete; the line is escaped
// HTML; the search is audited; a user account searches only its own
// recordings; a file longer than the scan limit that did not match in its
// first part is listed with a note instead of being dropped.
func TestScreenSearch(t *testing.T) {
	e := newEnv(t, nil)
	hit := e.addRecording(recording.Meta{User: "carol", Title: "hit"}, castWith(
		`[0.5, "o", "$ psql\r\n"]`,
		`[3.25, "o", "\u001b[1;31mDROP TABLE\u001b[0m users; -- <script>alert(1)</script>\r\n"]`,
		`[4.0, "o", "drop table again\r\n"]`))
	miss := e.addRecording(recording.Meta{User: "carol", Title: "miss"}, castWith(`[1.0, "o", "select 1;\r\n"]`))
	bobs := e.addRecording(recording.Meta{User: "bob", Title: "bobs"}, castWith(`[2.0, "o", "drop table bob_only;\r\n"]`))

	auditor := e.client()
	auditor.login("alice", testPassword)
	_, page := auditor.get("/?" + url.Values{"screen": {"Drop Table"}}.Encode())
	for _, r := range []recording.Meta{hit, bobs} {
		if !strings.Contains(page, `data-id="`+r.ID+`"`) {
			t.Errorf("%s is not listed", r.Title)
		}
	}
	if strings.Contains(page, `data-id="`+miss.ID+`"`) {
		t.Error("a recording without the text is listed")
	}
	// The link opens the event at 3.25 s cut after the line's "\r": the
	// screen as it was when the line was complete.
	if !strings.Contains(page, `href="/recordings/`+hit.ID+`?t=3.250000&amp;cut=58"`) || !strings.Contains(page, "+0:03.3") {
		t.Errorf("no link to the moment the first match was complete, 3.25 s in:\n%s", page)
	}
	if !strings.Contains(page, "DROP TABLE users; -- &lt;script&gt;alert(1)&lt;/script&gt;") || strings.Contains(page, "<script>alert(1)") {
		t.Error("the matching line is missing or not escaped")
	}
	if strings.Contains(page, "drop table again") {
		t.Error("more than the first match of a recording is shown")
	}

	if res, _ := auditor.get("/api/recordings?screen=drop"); res.StatusCode != 400 {
		t.Errorf("API with screen: %d, want 400", res.StatusCode)
	}
	evs, _, err := e.store.ListAudit(context.Background(), store.AuditFilter{Kind: audit.KindSearch, Limit: 10})
	if err != nil || len(evs) != 1 || evs[0].User != "alice" || evs[0].Detail[audit.DetailScreen] != "Drop Table" {
		t.Fatalf("search audit events %+v (%v)", evs, err)
	}

	e.addAccount("carol", store.RoleUser)
	user := e.client()
	user.ip = "198.51.100.9"
	user.login("carol", testPassword)
	_, page = user.get("/?" + url.Values{"screen": {"drop table"}, "user": {"bob"}}.Encode())
	if !strings.Contains(page, `data-id="`+hit.ID+`"`) || strings.Contains(page, bobs.ID) || strings.Contains(page, "bob_only") {
		t.Error("a user account's screen search is not confined to its own recordings")
	}

	defer func(old int64) { screenScanLimit = old }(screenScanLimit)
	screenScanLimit = 200
	long := e.addRecording(recording.Meta{User: "carol", Title: "long"}, castWith(
		`[1.0, "o", "`+strings.Repeat("x", 300)+`\r\n"]`, `[2.0, "o", "drop table late\r\n"]`))
	_, page = auditor.get("/?" + url.Values{"screen": {"drop table"}}.Encode())
	if !strings.Contains(page, `data-id="`+long.ID+`"`) || !strings.Contains(page, "no match in the first 200 B; the rest of this recording was not searched") {
		t.Error("a recording cut by the scan limit is not listed with its note")
	}
	if !strings.Contains(page, `data-id="`+hit.ID+`"`) {
		t.Error("a match within the limit is lost")
	}
}
