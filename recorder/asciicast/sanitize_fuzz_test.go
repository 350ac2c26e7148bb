package asciicast_test

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/jumpcast/jumpcast/recorder/asciicast"
	"github.com/jumpcast/jumpcast/recorder/asciicast/asciicasttest"
)

// hostileOut matches, in a Sanitizer's output, the start of a string
// sequence (OSC, DCS, SOS, PM, APC), a query (DSR, DA, DECRQM, XTVERSION,
// window reports, DECREQTPARM), ENQ or DECID.
var hostileOut = regexp.MustCompile(`\x1b[\]P_^X]|\x1b\[[<=>?]?[0-9;:]*(?:[cntx]|\$p)|\x1b\[>[0-9;]*q|\x05|\x1bZ`)

// FuzzSanitize: whatever a recording holds and however its events split
// it, the Sanitizer's output has no string sequence, no query and no C1
// control, is valid UTF-8, passes the Sanitizer again unchanged (each
// sequence it writes is one it allows), and does not depend on where the
// input was split; text without control characters passes unchanged.
func FuzzSanitize(f *testing.F) {
	for _, s := range []string{
		"plain text\r\n", "\x1b]52;c;Y3VybA==\a", "\x1b]0;t\x1b\\", "\x1b[6n", "\x1b[c", "\x1bP$qm\x1b\\",
		"\x1b[1;31mred\x1b[m", "\x1b[?1049h\x1b[H\x1b[2J", "\u009b6n", "\u009d52;c;x\u009c", "\x9b6n",
		"\x1b]0;a\x1b[6n", "\x1b[3\n1m", "日本語 🙂", "\xff\xc3(", "\x1b(0lqk\x1b(B",
	} {
		f.Add([]byte(s), uint64(len(s)))
	}
	f.Fuzz(checkSanitize)
}

func checkSanitize(t *testing.T, in []byte, seed uint64) {
	{
		whole, dropped := sanitizeBytes(t, [][]byte{in})
		if m := hostileOut.Find(whole); m != nil {
			t.Fatalf("Sanitize(%q) wrote %q: %q", in, m, whole)
		}
		if !utf8.Valid(whole) {
			t.Fatalf("Sanitize(%q) = %q: not UTF-8", in, whole)
		}
		for _, r := range string(whole) {
			if r >= 0x80 && r <= 0x9f {
				t.Fatalf("Sanitize(%q) wrote C1 control %U: %q", in, r, whole)
			}
		}
		if again, n := sanitizeBytes(t, [][]byte{whole}); !bytes.Equal(again, whole) || n != 0 {
			t.Fatalf("Sanitize(%q) = %q, which a second pass makes %q (dropped %d)", in, whole, again, n)
		}
		if split, n := sanitizeBytes(t, asciicasttest.SplitRandom(in, seed)); !bytes.Equal(split, whole) || n != dropped {
			t.Fatalf("Sanitize(%q) split: %q, dropped %d; whole: %q, dropped %d", in, split, n, whole, dropped)
		}
		plain := strings.Map(func(r rune) rune {
			if r == '\t' || r == '\n' || r == '\r' || (unicode.IsPrint(r) && r != utf8.RuneError) {
				return r
			}
			return -1
		}, string(in))
		if out, n := sanitizeBytes(t, asciicasttest.SplitRandom([]byte(plain), seed)); string(out) != plain || n != 0 {
			t.Fatalf("plain text %q became %q (dropped %d)", plain, out, n)
		}
	}
}

func sanitizeBytes(tb testing.TB, chunks [][]byte) ([]byte, int) {
	tb.Helper()
	var out bytes.Buffer
	s := asciicast.NewSanitizer(&out)
	for _, c := range chunks {
		if _, err := s.Write(c); err != nil {
			tb.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		tb.Fatal(err)
	}
	return out.Bytes(), s.Dropped()
}
