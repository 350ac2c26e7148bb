package asciicast

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// encodingJSON is the oracle appendEvent must match: encoding/json's
// encoding of [time as a 6-decimal number, code, data] without HTML
// escapes, with each byte that is not valid UTF-8 written as the escape
// \ufffd. That last part is our format's rule (an ASCII-only marker where
// the session sent garbage, as encoding/json wrote it up to Go 1.26); Go
// 1.27's encoding/json writes a literal U+FFFD instead, so the oracle
// encodes the valid runs with encoding/json and the invalid bytes itself.
func encodingJSON(t testing.TB, ev Event) []byte {
	t.Helper()
	head := encodeJSON(t, [2]any{json.Number(strconv.FormatFloat(ev.Time, 'f', 6, 64)), ev.Code})
	out := append(head[:len(head)-1:len(head)-1], ',', '"')
	for s := ev.Data; s != ""; {
		if r, n := utf8.DecodeRuneInString(s); r == utf8.RuneError && n == 1 {
			out = append(out, `\ufffd`...)
			s = s[1:]
			continue
		}
		n := 0
		for n < len(s) {
			r, size := utf8.DecodeRuneInString(s[n:])
			if r == utf8.RuneError && size == 1 {
				break
			}
			n += size
		}
		q := encodeJSON(t, s[:n])
		out = append(out, q[1:len(q)-1]...)
		s = s[n:]
	}
	return append(out, '"', ']')
}

func encodeJSON(t testing.TB, v any) []byte {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// TestAppendEventMatchesEncodingJSON puts every byte value, the two
// escaped separators, invalid and truncated UTF-8, at every offset of an
// 8-byte word (the fast path's unit) and at the ends.
func TestAppendEventMatchesEncodingJSON(t *testing.T) {
	specials := []string{"\x00", "\x1f", " ", "\"", "\\", "\x7f", "\b", "\f", "\n", "\r", "\t", "<>&",
		"\u2028", "\u2029", "\u2027", "\u202a", "\xe2\x80", "\xe2", "日本", "😀", "\xff", "\xc3\x28", "\xed\xa0\x80", "e\u0301"}
	for b := range 256 {
		specials = append(specials, string([]byte{byte(b)}))
	}
	for _, sp := range specials {
		for pre := range 17 {
			for _, post := range []int{0, 1, 7, 8, 9} {
				data := strings.Repeat("a", pre) + sp + strings.Repeat("z", post)
				ev := Event{Time: 12.345678, Code: CodeOutput, Data: data}
				got, _ := ev.MarshalJSON()
				if want := encodingJSON(t, ev); !bytes.Equal(got, want) {
					t.Fatalf("data %q:\n got %s\nwant %s", data, got, want)
				}
			}
		}
	}
}

// TestPlain8 checks the word test against the byte rule on words that
// hold one special byte among plain ones, at each position.
func TestPlain8(t *testing.T) {
	plain := func(c byte) bool { return c >= 0x20 && c < 0x80 && c != '"' && c != '\\' }
	for c := range 256 {
		for pos := range 8 {
			for _, fill := range []byte{'a', ' ', '~', '!', '#', '[', ']', 0x7f} {
				w := bytes.Repeat([]byte{fill}, 8)
				w[pos] = byte(c)
				if got, want := plain8(load64(string(w), 0)), plain(byte(c)); got != want {
					t.Fatalf("word %q: plain8 %v, want %v", w, got, want)
				}
			}
		}
	}
}

// FuzzAppendJSONString: any data, encoded as encoding/json would.
func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "plain ascii text", "a\"b\\c\n\r\t\x00\x1b[0m", "日本語 😀", "\u2028\u2029", "\xff\xfe", "\xe2\x80\xa8x", "abcdefgh\xe2\x80"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data string) {
		ev := Event{Time: 1, Code: CodeOutput, Data: data}
		got, _ := ev.MarshalJSON()
		if want := encodingJSON(t, ev); !bytes.Equal(got, want) {
			t.Fatalf("data %q:\n got %s\nwant %s", data, got, want)
		}
	})
}

// TestEncodeMatchesMarshal: the Writer's event lines are exactly what
// encoding/json makes of the event tuple, and they decode back to the same
// data for valid UTF-8.
func TestEncodeMatchesMarshal(t *testing.T) {
	rng := rand.New(rand.NewPCG(6, 6))
	alphabet := []string{"a", " ", "\r\n", "\t", "\x1b[0m", "\"", "\\", "<>&", "\u2028", "日", "😀", "\x00", "\x7f", "\xff", "e\u0301"}
	for i := range 500 {
		var sb strings.Builder
		for range rng.IntN(40) + 1 {
			sb.WriteString(alphabet[rng.IntN(len(alphabet))])
		}
		data := sb.String()
		at := time.Duration(rng.Int64N(int64(100 * time.Hour)))
		var buf bytes.Buffer
		w, err := NewWriter(&buf, Header{}, WriterOptions{Clock: func() time.Duration { return at }})
		if err != nil {
			t.Fatal(err)
		}
		buf.Reset()
		if err := w.Marker(data); err != nil {
			t.Fatal(err)
		}
		if err := w.Snapshot(func(int64) {}); err != nil { // flushes
			t.Fatal(err)
		}
		ev := Event{Time: float64(at.Microseconds()) / 1e6, Code: CodeMarker, Data: data}
		want := encodingJSON(t, ev)
		if got := buf.String(); got != string(want)+"\n" {
			t.Fatalf("case %d: writer %q, json %q", i, got, want)
		}
		var back Event
		if err := json.Unmarshal(want, &back); err != nil {
			t.Fatal(err)
		}
		if utf8.ValidString(data) && back != ev {
			t.Errorf("case %d: round trip %+v, want %+v", i, back, ev)
		}
	}
}
