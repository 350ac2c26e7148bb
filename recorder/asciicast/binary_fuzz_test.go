package asciicast_test

import (
	"bytes"
	"regexp"
	"strconv"
	"testing"
	"unicode/utf8"

	"github.com/jumpcast/jumpcast/recorder/asciicast"
	"github.com/jumpcast/jumpcast/recorder/asciicast/asciicasttest"
)

var binaryMarker = regexp.MustCompile(`^\[binary (output|input): ([0-9]+) bytes\]$`)

// FuzzBinarySummary: in a session without a PTY, every byte is accounted
// for (as recorded text or in a binary marker's count), a valid UTF-8
// stream without NUL is recorded exactly with no marker, and the cast
// stays valid UTF-8 that reads back cleanly.
func FuzzBinarySummary(f *testing.F) {
	for _, s := range append(utf8Samples, "\x00\x01\x02binary\x00", "text then \x1f\x8b\x08\x00\x00\x00 gzip", "\xe6\x97\xa5 then \xff") {
		f.Add([]byte(s), uint64(len(s)))
	}
	f.Fuzz(func(t *testing.T, data []byte, seed uint64) {
		var buf bytes.Buffer
		w, err := asciicast.NewWriter(&buf, asciicast.Header{}, asciicast.WriterOptions{Clock: (&asciicasttest.Clock{}).Now, SummarizeBinary: true})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range asciicasttest.SplitRandom(data, seed) {
			if err := w.Output(c); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(asciicast.Exit{HasStatus: true}); err != nil {
			t.Fatal(err)
		}
		if !utf8.Valid(buf.Bytes()) {
			t.Fatal("cast is not valid UTF-8")
		}
		_, evs := asciicasttest.ReadAll(t, &buf)
		text, binary, markers := 0, 0, 0
		for _, ev := range evs {
			switch ev.Code {
			case asciicast.CodeOutput:
				text += len(ev.Data)
			case asciicast.CodeMarker:
				m := binaryMarker.FindStringSubmatch(ev.Data)
				if m == nil || m[1] != "output" {
					t.Fatalf("marker %q", ev.Data)
				}
				n, _ := strconv.Atoi(m[2])
				binary += n
				markers++
			}
		}
		// A character the stream never completed is written as one U+FFFD
		// (3 bytes) per byte at close.
		tail := len(data) - asciicast.IncompleteTail(data)
		if total := text + binary; total != len(data) && total != len(data)+2*tail {
			t.Fatalf("accounted %d bytes (%d text, %d binary) of %d", total, text, binary, len(data))
		}
		if utf8.Valid(data) && bytes.IndexByte(data, 0) < 0 {
			if markers != 0 || asciicasttest.Joined(evs, asciicast.CodeOutput) != string(data) {
				t.Fatalf("text stream summarized or changed: %q", asciicasttest.Joined(evs, asciicast.CodeOutput))
			}
		}
	})
}
