package recording

import (
	"encoding/json"
	"slices"
	"testing"
	"time"
)

func TestStatuses(t *testing.T) {
	for _, tc := range []struct {
		s            Status
		valid, final bool
	}{
		{StatusActive, true, false},
		{StatusFinished, true, true},
		{StatusInterrupted, true, true},
		{StatusFailed, true, true},
		{"", false, false},
		{"Active", false, false},
		{"deleted", false, false},
	} {
		if tc.s.Valid() != tc.valid || tc.s.Final() != tc.final {
			t.Errorf("%q: Valid %v Final %v, want %v %v", tc.s, tc.s.Valid(), tc.s.Final(), tc.valid, tc.final)
		}
	}
	all := Statuses()
	if !slices.Equal(all, []Status{"active", "finished", "interrupted", "failed"}) {
		t.Errorf("Statuses() = %v", all)
	}
	all[0] = "changed"
	if Statuses()[0] != StatusActive {
		t.Error("Statuses returns a shared slice")
	}
}

// TestMetaJSON pins the JSON the API serves: the names of its fields and
// what is omitted when empty are a public format.
func TestMetaJSON(t *testing.T) {
	start := time.Date(2026, 11, 24, 9, 30, 12, 345678000, time.UTC)
	zero := 0
	m := Meta{
		ID: "20261124T093012.345678Z-3f9a1c2b", User: "alice", KeyFingerprint: "SHA256:abc", RemoteUser: "root",
		TargetAlias: "db1", TargetAddr: "10.0.0.5:22", ClientAddr: "192.0.2.7:50123", Kind: "exec", Command: "uptime", CommandLen: 5000,
		Title: "root@db1 — alice", Term: "xterm", Width: 80, Height: 24, Start: start, End: start.Add(1500 * time.Millisecond),
		Duration: 1500 * time.Millisecond, BytesIn: 1, BytesOut: 2, FileSize: 3, ExitStatus: &zero, ExitSignal: "KILL",
		Status: StatusFinished, Error: "e", Path: "2026/11/24/20261124T093012.345678Z-3f9a1c2b.cast", SHA256: "ab",
	}
	const want = `{"id":"20261124T093012.345678Z-3f9a1c2b","user":"alice","key_fingerprint":"SHA256:abc","remote_user":"root",` +
		`"target_alias":"db1","target_addr":"10.0.0.5:22","client_addr":"192.0.2.7:50123","kind":"exec","command":"uptime","command_len":5000,` +
		`"title":"root@db1 — alice","term":"xterm","width":80,"height":24,"start":"2026-11-24T09:30:12.345678Z",` +
		`"end":"2026-11-24T09:30:13.845678Z","duration":1500000000,"bytes_in":1,"bytes_out":2,"file_size":3,` +
		`"exit_status":0,"exit_signal":"KILL","status":"finished","error":"e",` +
		`"path":"2026/11/24/20261124T093012.345678Z-3f9a1c2b.cast","sha256":"ab"}`
	if b, err := json.Marshal(m); err != nil || string(b) != want {
		t.Errorf("full row:\n got %s, %v\nwant %s", b, err, want)
	}
	const wantActive = `{"id":"20261124T093012.345678Z-3f9a1c2b","user":"","key_fingerprint":"","remote_user":"",` +
		`"target_alias":"","target_addr":"","client_addr":"","kind":"","title":"","width":0,"height":0,` +
		`"start":"2026-11-24T09:30:12.345678Z","duration":0,"bytes_in":0,"bytes_out":0,"file_size":0,"status":"active","path":""}`
	active := Meta{ID: m.ID, Start: start, Status: StatusActive}
	if b, err := json.Marshal(active); err != nil || string(b) != wantActive {
		t.Errorf("active row:\n got %s, %v\nwant %s", b, err, wantActive)
	}
}
