package store

import (
	"encoding/hex"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jumpcast/jumpcast/internal/recording"
)

// TestRowCodecGolden pins the row bytes: databases written by earlier
// versions must read back the same, so the encoding of a row may not
// change without a schema migration. The golden bytes were written by the
// code before the row type moved to package recording; they cover a
// derived path and a raw SHA-256, an explicit path, and a non-hex hash.
func TestRowCodecGolden(t *testing.T) {
	start := time.Date(2026, 11, 24, 9, 30, 12, 345678000, time.UTC)
	code := 3
	for _, tc := range []struct {
		name   string
		row    recording.Meta
		golden string
	}{
		{"finished shell", recording.Meta{ID: "20261124T093012.345678Z-3f9a1c2b", User: "alice", KeyFingerprint: "SHA256:abc", RemoteUser: "root",
			TargetAlias: "db1", TargetAddr: "10.0.0.5:22", ClientAddr: "192.0.2.7:50123", Kind: "shell",
			Title: "root@db1 — alice", Term: "xterm", Width: 132, Height: 43, Start: start, End: start.Add(90 * time.Second),
			Duration: 90 * time.Second, BytesIn: 10, BytesOut: 2000, FileSize: 4096, ExitStatus: &code,
			Status: recording.StatusFinished, Path: "2026/11/24/20261124T093012.345678Z-3f9a1c2b.cast", SHA256: strings.Repeat("ab", 32)},
			"0100000014f46b04001fe0a2c889a7cdf8ea31e0b2a0d0c5d2f8ea310688025614a01f804005616c6963650a5348413235363a61626304726f6f74036462310b31302e302e302e353a32320f3139322e302e322e373a3530313233057368656c6c0012726f6f744064623120e2809420616c69636505787465726d000866696e6973686564000020abababababababababababababababababababababababababababababababab"},
		{"active exec elsewhere", recording.Meta{ID: "20261124T093012.345678Z-00000001", User: "bob", Kind: "exec", Command: "tar c /", Start: start,
			Status: recording.StatusActive, Path: "elsewhere/x.cast"},
			"01000000000000000001e0a2c889a7cdf8ea31000000000003626f6200000000000465786563077461722063202f000000066163746976650010656c736577686572652f782e6361737400"},
		{"failed sftp", recording.Meta{ID: "20261124T093012.345678Z-00000002", User: "carol", Kind: "sftp", Start: start, Status: recording.StatusFailed,
			Error: "disk full", ExitSignal: "KILL", SHA256: "not hex", Path: "2026/11/24/20261124T093012.345678Z-00000002.cast"},
			"01000000000000000009e0a2c889a7cdf8ea310000000000056361726f6c00000000000473667470000000044b494c4c066661696c6564096469736b2066756c6c00076e6f7420686578"},
		// Written when CommandLen came in: flag 0x20, its varint after the
		// strings. Rows without the flag (all the above) read back 0.
		{"exec with a cut command", recording.Meta{ID: "20261124T093012.345678Z-00000003", User: "dave", Kind: "exec", Command: "bash -c 'echo …", CommandLen: 122880,
			Start: start, Status: recording.StatusActive, Path: "2026/11/24/20261124T093012.345678Z-00000003.cast"},
			"01000000000000000029e0a2c889a7cdf8ea3100000000000464617665000000000004657865631162617368202d6320276563686f20e280a60000000661637469766500000080800f"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := hex.EncodeToString(encodeRow(&tc.row)); got != tc.golden {
				t.Errorf("encoded\n got %s\nwant %s", got, tc.golden)
			}
			b, _ := hex.DecodeString(tc.golden)
			got, err := decodeRow(tc.row.ID, b)
			if err != nil || !reflect.DeepEqual(got, tc.row) {
				t.Errorf("decoded\n got %+v, %v\nwant %+v", got, err, tc.row)
			}
		})
	}
}

// TestRowCodecCommandLenIsReadByOlderCode: the cut command's length comes
// after everything a jumpcast from before it reads, so such a jumpcast
// (schema 2 too) reads the row as it was, only without the length.
func TestRowCodecCommandLenIsReadByOlderCode(t *testing.T) {
	row := recording.Meta{ID: "20261124T093012.345678Z-00000003", User: "dave", Kind: "exec", Command: "bash -c 'echo …",
		CommandLen: 122880, Start: time.Date(2026, 11, 24, 9, 30, 12, 0, time.UTC), Status: recording.StatusActive}
	b := encodeRow(&row)
	// What older code saw: the flag unknown (ignored), bytes after the
	// strings not read.
	old := append([]byte(nil), b...)
	old[9] &^= flagCommandLen
	got, err := decodeRow(row.ID, old)
	want := row
	want.CommandLen = 0
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("row read without the command length:\n got %+v, %v\nwant %+v", got, err, want)
	}
	if _, err := decodeRow(row.ID, b[:len(b)-1]); err == nil {
		t.Error("a row whose command length is cut short decodes")
	}
}
