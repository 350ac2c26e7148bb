package main

import (
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/jumpcast/jumpcast/internal/recording"
)

// TestRecordingsGrep: two sessions through the real ssh client, one of
// which prints a coloured line a second in. grep finds that line in that
// recording only, with its time into the session, as text (escape
// sequences gone) and as JSON; case folding, the filters, no match (exit 1)
// and a bad pattern (exit 2) behave as grep's do.
func TestRecordingsGrep(t *testing.T) {
	e := startE2E(t)
	if out, errOut, code := e.ssh(t, "", "-tt", e.login(), `printf 'warming up\n'; sleep 1.2; printf '\033[1;31mDROP TABLE\033[0m customers;\n'`); code != 0 {
		t.Fatalf("first session: exit %d %q %q", code, out, errOut)
	}
	if out, errOut, code := e.ssh(t, "", "-tt", e.login(), `echo nothing to see`); code != 0 {
		t.Fatalf("second session: exit %d %q %q", code, out, errOut)
	}
	recs := waitRecordings(t, e.cfgPath, 2, func(r recording.Meta) bool { return r.Status == recording.StatusFinished })
	var want recording.Meta
	for _, r := range recs {
		if strings.Contains(r.Command, "DROP") {
			want = r
		}
	}

	out, errOut, code := runJumpcast(t, "", "recordings", "grep", "-i", "drop table", "-c", e.cfgPath)
	if code != 0 {
		t.Fatalf("grep: exit %d %q", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 1 || !strings.HasPrefix(lines[0], want.ID+"  +0:01.") || !strings.HasSuffix(lines[0], "DROP TABLE customers;") ||
		!strings.Contains(lines[0], "alice → "+want.RemoteUser+"@db1") {
		t.Fatalf("grep printed %q, want one line for %s at +0:01.x", out, want.ID)
	}

	out, _, code = runJumpcast(t, "", "recordings", "grep", "DROP TABLE", "--json", "--user", "alice", "-c", e.cfgPath)
	var m grepMatch
	if err := json.Unmarshal([]byte(out), &m); code != 0 || err != nil {
		t.Fatalf("grep --json: exit %d, %v: %q", code, err, out)
	}
	_, query, _ := strings.Cut(m.URL, "/recordings/"+want.ID+"?")
	q, err := url.ParseQuery(query)
	seek, terr := strconv.ParseFloat(q.Get("t"), 64)
	cut, cerr := strconv.Atoi(q.Get("cut"))
	if m.ID != want.ID || m.Time < 1.1 || m.Time > 3 || m.Line != "DROP TABLE customers;" || m.Target != "db1" ||
		err != nil || terr != nil || cerr != nil || seek < m.Time || seek > m.Time+0.3 || cut < len("DROP TABLE customers;") {
		t.Errorf("grep --json: %+v (the link must open the moment the line was complete)", m)
	}

	if out, _, code := runJumpcast(t, "", "recordings", "grep", "DROP TABLE", "--user", "bob", "-c", e.cfgPath); code != 1 || out != "" {
		t.Errorf("grep for another person: exit %d, %q; want 1 and nothing", code, out)
	}
	if _, errOut, code := runJumpcast(t, "", "recordings", "grep", "drop table", "-c", e.cfgPath); code != 1 || !strings.Contains(errOut, "no line matched") {
		t.Errorf("case-sensitive grep: exit %d, %q; want 1 and 'no line matched'", code, errOut)
	}
	if _, errOut, code := runJumpcast(t, "", "recordings", "grep", "(unclosed", "-c", e.cfgPath); code != 2 || !strings.Contains(errOut, "PATTERN") {
		t.Errorf("bad pattern: exit %d, %q; want 2 naming PATTERN", code, errOut)
	}
}
