package recording

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestCutCommand(t *testing.T) {
	long := strings.Repeat("x", 120<<10)
	for _, tc := range []struct {
		name, cmd string
		wantLen   int // of the kept part
		wantWhole int
	}{
		{"empty", "", 0, 0},
		{"short", "uptime", 6, 0},
		{"exactly the cap", long[:MaxCommandLen], MaxCommandLen, 0},
		{"one byte over", long[:MaxCommandLen+1], MaxCommandLen, MaxCommandLen + 1},
		{"120 KB", long, MaxCommandLen, len(long)},
		{"a 3-byte character across the cap", long[:MaxCommandLen-1] + "日本", MaxCommandLen - 1, MaxCommandLen + 5},
		{"a 4-byte character across the cap", long[:MaxCommandLen-2] + "🙂🙂", MaxCommandLen - 2, MaxCommandLen + 6},
		{"invalid UTF-8 at the cap", long[:MaxCommandLen] + "\x80\x80\x80\x80", MaxCommandLen, MaxCommandLen + 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kept, whole := CutCommand(tc.cmd)
			if len(kept) != tc.wantLen || whole != tc.wantWhole || !strings.HasPrefix(tc.cmd, kept) {
				t.Errorf("CutCommand(%d bytes) = %d bytes, %d; want %d, %d", len(tc.cmd), len(kept), whole, tc.wantLen, tc.wantWhole)
			}
			if utf8.ValidString(tc.cmd) && !utf8.ValidString(kept) {
				t.Errorf("CutCommand cut a character in two: %q", kept[len(kept)-4:])
			}
		})
	}
}
