package replayweb

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/jumpcast/jumpcast/internal/audit"
	"github.com/jumpcast/jumpcast/internal/recording"
	"github.com/jumpcast/jumpcast/store"
)

// busyCast has a quiet start, a burst that ends on a drawn screen at
// 12.5 s, and a quiet end.
const busyCast = `{"version":2,"width":80,"height":24}
[0.5,"o","$ make\r\n"]
[12.0,"o","` + `cc -c a.c\r\ncc -c b.c\r\ncc -c c.c\r\ncc -c d.c\r\ncc -c e.c\r\ncc -c f.c\r\ncc -c g.c\r\n` + `"]
[12.5,"o","\u001b[2J\u001b[H build finished: 7 objects\r\n\u001b[1;32m OK \u001b[0m"]
[30.0,"o","\r\n$ exit\r\n"]
`

func getPreviews(t *testing.T, c *client, ids ...string) (int, previewAnswer, string) {
	t.Helper()
	res, body := c.get("/previews?ids=" + strings.Join(ids, ","))
	var ans previewAnswer
	if res.StatusCode == 200 {
		if err := json.Unmarshal([]byte(body), &ans); err != nil {
			t.Fatalf("previews: %v: %s", err, body)
		}
	}
	return res.StatusCode, ans, body
}

// TestPreviews: the list's previews show each recording's screen at its
// most active moment, only to whom may see the recording, each recording
// once in the audit trail per login; bad requests are refused whole.
func TestPreviews(t *testing.T) {
	e := newEnv(t, nil)
	e.addAccount("bob", store.RoleUser)
	busy := e.addRecording(recording.Meta{User: "carol"}, busyCast)
	quiet := e.addRecording(recording.Meta{User: "carol"}, `{"version":2,"width":80,"height":24}`+"\n"+`[1.0,"r","100x30"]`+"\n")
	purged := e.addRecording(recording.Meta{User: "carol"}, "")
	bobs := e.addRecording(recording.Meta{User: "bob"}, sampleCast)

	alice := e.client()
	alice.login("alice", testPassword)
	code, ans, body := getPreviews(t, alice, busy.ID, quiet.ID, purged.ID, bobs.ID, busy.ID)
	if code != 200 {
		t.Fatalf("previews: %d %s", code, body)
	}
	if len(ans.Previews) != 2 || len(ans.Later) != 0 {
		t.Fatalf("previews of a busy recording, a silent one, a purged one and bob's: %s", body)
	}
	pv := ans.Previews[0]
	if pv.ID != busy.ID || pv.At != 12.5 || pv.Clock != "0:12.5" || pv.Cols != 80 || pv.Rows != 24 || len(pv.Lines) != 24 {
		t.Errorf("busy preview: %+v", pv)
	}
	if pv.Lines[0] != " build finished: 7 objects" || pv.Lines[1] != " OK" || pv.Lines[2] != "" {
		t.Errorf("busy preview's text: %q", pv.Lines[:3])
	}
	if b := ans.Previews[1]; b.ID != bobs.ID || !slices.Contains(b.Lines, "$ exit") {
		t.Errorf("bob's preview: %+v", b)
	}
	for _, r := range []recording.Meta{busy, quiet, purged, bobs} {
		if got := auditOf(t, e, r.ID); !slices.Equal(got, []string{auditLine(audit.KindPreview, "alice")}) {
			t.Errorf("audit of %s after one preview: %v", r.ID, got)
		}
	}
	// Again, from the cache: the same answer, no more events.
	if _, again, _ := getPreviews(t, alice, busy.ID); len(again.Previews) != 1 || !slices.Equal(again.Previews[0].Lines, pv.Lines) {
		t.Errorf("the second preview: %+v", again)
	}
	if got := auditOf(t, e, busy.ID); len(got) != 1 {
		t.Errorf("audit after a second preview by the same login: %v", got)
	}

	// A user account sees its own recordings' previews only, and the
	// others' are not audited as seen by it.
	bob := e.client()
	bob.login("bob", testPassword)
	_, ans, body = getPreviews(t, bob, busy.ID, bobs.ID)
	if len(ans.Previews) != 1 || ans.Previews[0].ID != bobs.ID {
		t.Errorf("bob's previews: %s", body)
	}
	if got := auditOf(t, e, busy.ID); len(got) != 1 {
		t.Errorf("audit of carol's recording after bob asked: %v", got)
	}
	if got := auditOf(t, e, bobs.ID); !slices.Equal(got, []string{auditLine(audit.KindPreview, "alice"), auditLine(audit.KindPreview, "bob")}) {
		t.Errorf("audit of bob's recording: %v", got)
	}

	// Bad requests: nothing read, nothing audited.
	many := make([]string, maxPreviewIDs+1)
	for i := range many {
		many[i] = busy.ID
	}
	for _, ids := range [][]string{nil, {"../etc/passwd"}, {busy.ID, ""}, many} {
		if code, _, body := getPreviews(t, alice, ids...); code != 400 {
			t.Errorf("ids %q: %d %s", ids, code, body)
		}
	}
	// Not signed in: the guard's answer.
	if res, _ := e.client().get("/previews?ids=" + busy.ID); res.StatusCode == 200 {
		t.Errorf("previews without a login: %d", res.StatusCode)
	}
}

// TestPreviewsWithinBudget: a request that runs out of time answers what
// it made and lists the rest as later; asking again for those completes.
func TestPreviewsWithinBudget(t *testing.T) {
	e := newEnv(t, nil)
	var ids []string
	for range 3 {
		ids = append(ids, e.addRecording(recording.Meta{}, busyCast).ID)
	}
	old := previewBudget
	previewBudget = 0
	t.Cleanup(func() { previewBudget = old })
	c := e.client()
	c.login("alice", testPassword)
	var got []string
	for round := 0; len(ids) > 0; round++ {
		if round > 3 {
			t.Fatalf("previews never completed: %v left", ids)
		}
		_, ans, body := getPreviews(t, c, ids...)
		if len(ans.Previews) != 1 {
			t.Fatalf("a request with no time left: %s", body)
		}
		got = append(got, ans.Previews[0].ID)
		ids = ans.Later
	}
	if len(got) != 3 {
		t.Errorf("previews over the rounds: %v", got)
	}
}
