package recorder

import (
	"bytes"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/jumpcast/jumpcast/recorder/asciicast/asciicasttest"
)

// The fuzz target of the sftp watch: file operations become markers,
// data is not kept, and what is not SFTP is recorded as it is. (The
// binary/text split of sessions without a PTY is asciicast's
// FuzzBinarySummary.)

// watchRequests feeds a fresh watch an SFTP INIT, the server's VERSION,
// then chunks of a client's stream, and returns what it reported.
func watchRequests(t *testing.T, chunks [][]byte) []string {
	t.Helper()
	var log watchLog
	w := newSFTPWatch()
	w.feed(false, []byte{0, 0, 0, 5, sftpInit, 0, 0, 0, 3}, &log)
	w.feed(true, []byte{0, 0, 0, 5, sftpVersion, 0, 0, 0, 3}, &log)
	for _, c := range chunks {
		w.feed(false, c, &log)
		if len(w.in.body) > sftpMaxKept {
			t.Fatalf("the watch keeps %d bytes, more than %d", len(w.in.body), sftpMaxKept)
		}
	}
	w.end(&log)
	return log.entries
}

// FuzzSFTPWatch: any client→server stream after INIT and VERSION, cut
// anywhere, gives the same report as the unsplit stream; each marker is
// one printable line; the watch never keeps more than one small request;
// and what it reports as data is the stream's end, byte for byte.
// (TestSFTPWatch covers how a session starts.)
func FuzzSFTPWatch(f *testing.F) {
	for _, s := range sftpSamples() {
		f.Add(s, uint64(len(s)))
	}
	f.Fuzz(func(t *testing.T, data []byte, seed uint64) {
		whole := watchRequests(t, [][]byte{data})
		split := watchRequests(t, asciicasttest.SplitRandom(data, seed))
		if strings.Join(whole, "\n") != strings.Join(split, "\n") || len(whole) != len(split) {
			t.Fatalf("split stream gave %q, whole %q", split, whole)
		}
		var recorded string
		for _, e := range whole {
			code, rest, _ := strings.Cut(e, " ")
			if code == "i" {
				recorded += rest
				continue
			}
			if code != "m" || !strings.HasPrefix(rest, "sftp ") && !strings.HasPrefix(rest, "[sftp ends: ") || !utf8.ValidString(rest) {
				t.Fatalf("entry %q", e)
			}
			for _, r := range rest {
				if !unicode.IsPrint(r) {
					t.Fatalf("marker %q has unprintable %U", rest, r)
				}
			}
		}
		if !strings.HasSuffix(string(data), recorded) {
			t.Fatalf("recorded %q, not the end of the stream %q", recorded, data)
		}
	})
}

// sftpPacket builds one request: uint32 length, type, uint32 id, fields
// (strings length-prefixed, uint32s big-endian).
func sftpPacket(typ byte, fields ...any) []byte {
	body := []byte{typ, 0, 0, 0, 7}
	for _, f := range fields {
		switch v := f.(type) {
		case string:
			body = append(body, byte(len(v)>>24), byte(len(v)>>16), byte(len(v)>>8), byte(len(v)))
			body = append(body, v...)
		case uint32:
			body = append(body, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
		}
	}
	n := len(body)
	return append([]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}, body...)
}

func sftpSamples() [][]byte {
	return [][]byte{
		sftpPacket(sftpOpen, "/etc/hosts", uint32(1), uint32(0)),
		append(sftpPacket(sftpRemove, "/a"), "rm -rf /tmp/x\n"...), // then not SFTP
		bytes.Join([][]byte{sftpPacket(sftpMkdir, "dir", uint32(0)), sftpPacket(sftpRename, "a", "b"),
			sftpPacket(sftpRemove, "x\x1b[31m\n"), sftpPacket(sftpSymlink, "l", "t")}, nil),
		sftpPacket(sftpExtended, "posix-rename@openssh.com", "old", "new"),
		sftpPacket(6, strings.Repeat("w", 100)), // a WRITE-sized packet of another type: skipped
		{0, 0, 0, 0},                            // a zero length
		{0xff, 0xff, 0xff, 0xff, sftpOpen, 1},   // a huge OPEN: not kept
		sftpPacket(sftpOpen, "\xff\xfe", uint32(0x3f), uint32(0)),
		sftpPacket(sftpOpen)[:9], // cut short
	}
}
