package asciicast_test

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/jumpcast/jumpcast/recorder/asciicast"
	"github.com/jumpcast/jumpcast/recorder/asciicast/asciicasttest"
)

// replaceInvalid is what a decoder of the whole, unsplit stream yields:
// every invalid byte becomes one U+FFFD, everything else is unchanged.
func replaceInvalid(b []byte) string {
	var s strings.Builder
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if r == utf8.RuneError && n == 1 {
			s.WriteRune(utf8.RuneError)
		} else {
			s.Write(b[:n])
		}
		b = b[n:]
	}
	return s.String()
}

// checkCarry feeds data, split by seed, as output and (separately split)
// as input through a Writer and checks the decoded streams.
func checkCarry(t *testing.T, data []byte, seed uint64) {
	t.Helper()
	var buf bytes.Buffer
	w, err := asciicast.NewWriter(&buf, asciicast.Header{}, asciicast.WriterOptions{Clock: (&asciicasttest.Clock{}).Now})
	if err != nil {
		t.Fatal(err)
	}
	outs, ins := asciicasttest.SplitRandom(data, seed), asciicasttest.SplitRandom(data, ^seed)
	for i := range max(len(outs), len(ins)) {
		if i < len(outs) {
			if err := w.Output(outs[i]); err != nil {
				t.Fatal(err)
			}
		}
		if i < len(ins) {
			if err := w.Input(ins[i]); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := w.Close(asciicast.Exit{HasStatus: true}); err != nil {
		t.Fatal(err)
	}
	if !utf8.Valid(buf.Bytes()) {
		t.Fatalf("cast is not valid UTF-8")
	}
	_, evs := asciicasttest.ReadAll(t, &buf)
	want := replaceInvalid(data)
	if utf8.Valid(data) && want != string(data) {
		t.Fatal("replaceInvalid changed valid input")
	}
	for _, code := range []string{asciicast.CodeOutput, asciicast.CodeInput} {
		if got := asciicasttest.Joined(evs, code); got != want {
			t.Fatalf("%s stream: decoded\n%q\nwant\n%q\n(input %q, seed %d)", code, got, want, data, seed)
		}
	}
}

// FuzzUTF8Carry: for any byte stream split anywhere, the concatenated
// decoded "o" (and "i") data equals the stream byte for byte when it is
// valid UTF-8, and otherwise differs only by U+FFFD for each invalid byte.
func FuzzUTF8Carry(f *testing.F) {
	for _, s := range utf8Samples {
		f.Add([]byte(s), uint64(len(s)))
	}
	f.Fuzz(func(t *testing.T, data []byte, seed uint64) {
		checkCarry(t, data, seed)
	})
}

var utf8Samples = []string{
	"plain ascii\r\n",
	"日本語のテキスト、中文字符，한국어",
	"emoji 😀👍🏽👨‍👩‍👧‍👦🇫🇷",
	"combining e\u0301 a\u0308 n\u0303 Z\u0351\u0352\u0353",
	"\x1b[1;31mred\x1b[0m \x1b]0;title\x07 \x1b[?1049h\x1b[2J",
	"invalid \xff\xfe \xc3 \xe6\x97 \xf0\x9f\x98 \xc0\xaf \xed\xa0\x80 end",
	"\xf4\x90\x80\x80 \xef\xbf\xbd U+FFFD itself",
}

// TestUTF8CarryProperty runs the fuzz property over many generated streams
// in every ordinary test run (the fuzz seeds alone are few).
func TestUTF8CarryProperty(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	pieces := append([]string{"a", "\r\n", "\x00", "\xff", "\xe6", "\x9f", "\xf0\x9f"}, utf8Samples...)
	for i := range 2000 {
		var b []byte
		for range rng.IntN(12) {
			p := pieces[rng.IntN(len(pieces))]
			if rng.IntN(4) == 0 { // a random slice of a sample: cuts inside characters
				lo := rng.IntN(len(p) + 1)
				p = p[lo:][:rng.IntN(len(p)-lo+1)]
			}
			b = append(b, p...)
		}
		if rng.IntN(5) == 0 { // raw random bytes
			for range rng.IntN(20) {
				b = append(b, byte(rng.Uint32()))
			}
		}
		checkCarry(t, b, uint64(i))
	}
}
