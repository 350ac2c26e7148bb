package proxy

import (
	"strings"
	"testing"
)

// TestControlRefusal: exec commands and subsystem names with a control
// character other than tab are refused with one line naming the
// character and where it is; everything else passes, UTF-8 included.
func TestControlRefusal(t *testing.T) {
	for _, tt := range []struct {
		typ, s string
		want   string // "" when allowed
	}{
		{"exec", "ls -l\t/tmp", ""},
		{"exec", "echo héllo wörld ✓", ""},
		{"exec", "printf '\\x1b'", ""}, // an escape spelled out is text
		{"exec", "\xff\xfe", ""},       // not UTF-8, but no control character
		{"subsystem", "sftp\x00ignored", "subsystem name refused: it holds a control character (U+0000 at byte 4)"},
		{"exec", "id\ntouch /tmp/x", "exec command refused: it holds a control character (U+000A at byte 2)"},
		{"exec", "ls\r", "exec command refused: it holds a control character (U+000D at byte 2)"},
		{"exec", "echo \x1b[2J", "exec command refused: it holds a control character (U+001B at byte 5)"},
		{"exec", "a\x7f", "exec command refused: it holds a control character (U+007F at byte 1)"},
		{"exec", "é\u009b1m", "exec command refused: it holds a control character (U+009B at byte 2)"},
		{"exec", "x\x9b1m", "exec command refused: it holds a control character (U+009B at byte 1)"},
	} {
		ae := controlRefusal(tt.typ, tt.s)
		switch {
		case tt.want == "" && ae != nil:
			t.Errorf("%s %q refused: %s", tt.typ, tt.s, ae.Msg)
		case tt.want != "" && (ae == nil || ae.Msg != tt.want):
			t.Errorf("%s %q: %v, want %q", tt.typ, tt.s, ae, tt.want)
		case ae != nil && (strings.ContainsAny(ae.line(), "\n\r\x00") || !strings.HasPrefix(ae.line(), "jumpcast: ")):
			t.Errorf("%s %q: line %q", tt.typ, tt.s, ae.line())
		}
	}
}
