package recorder

import (
	"bytes"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/jumpcast/jumpcast/recorder/asciicast/asciicasttest"
)

// The fuzz target of the sftp request parser: file operations become
// markers, data is not kept. (The binary/text split of sessions without a
// PTY is asciicast's FuzzBinarySummary.)

// sftpLabels feeds chunks to a fresh parser and returns its labels.
func sftpLabels(t *testing.T, chunks [][]byte) []string {
	t.Helper()
	var labels []string
	p := newSFTPParser(func(l string) { labels = append(labels, l) })
	for _, c := range chunks {
		p.feed(c)
		if len(p.body) > sftpMaxKept {
			t.Fatalf("parser keeps %d bytes, more than %d", len(p.body), sftpMaxKept)
		}
	}
	return labels
}

// FuzzSFTPParser: any client→server stream, cut anywhere, gives the same
// markers as the unsplit stream; each is one printable line naming an
// operation; the parser never keeps more than one small request.
func FuzzSFTPParser(f *testing.F) {
	for _, s := range sftpSamples() {
		f.Add(s, uint64(len(s)))
	}
	f.Fuzz(func(t *testing.T, data []byte, seed uint64) {
		whole := sftpLabels(t, [][]byte{data})
		split := sftpLabels(t, asciicasttest.SplitRandom(data, seed))
		if strings.Join(whole, "\n") != strings.Join(split, "\n") || len(whole) != len(split) {
			t.Fatalf("split stream gave %q, whole %q", split, whole)
		}
		for _, l := range whole {
			if !strings.HasPrefix(l, "sftp ") || !utf8.ValidString(l) {
				t.Fatalf("label %q", l)
			}
			for _, r := range l {
				if !unicode.IsPrint(r) {
					t.Fatalf("label %q has unprintable %U", l, r)
				}
			}
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
	init := []byte{0, 0, 0, 5, 1, 0, 0, 0, 3} // SSH_FXP_INIT v3
	return [][]byte{
		append(init, sftpPacket(sftpOpen, "/etc/hosts", uint32(1), uint32(0))...),
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
