package asciicast

import "testing"

func TestIncompleteTail(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int
	}{
		{"", 0},
		{"abc", 3},
		{"ab\xe6\x97", 2},
		{"\xf0\x9f\x98", 0},
		{"\xf0\x9f\x98\x80", 4},
		{"a\xc3", 1},
		{"a\xff", 2},        // invalid: emitted, not carried
		{"a\xe0\x80", 3},    // invalid second byte: not a prefix
		{"\x80\x80\x80", 3}, // lone continuation bytes: invalid
	} {
		if got := incompleteTail([]byte(c.in)); got != c.want {
			t.Errorf("incompleteTail(%q) = %d, want %d", c.in, got, c.want)
		}
	}
}
