package asciicast

import (
	"bytes"
	"unicode/utf8"
)

// carry holds the incomplete UTF-8 character at the end of a stream's last
// chunk (at most utf8.UTFMax-1 bytes) until the next chunk completes it.
type carry struct {
	buf [utf8.UTFMax - 1]byte
	n   int
}

// join returns the bytes to emit now: the carried bytes followed by p, minus
// a trailing incomplete character, which is kept for the next call. scratch
// is reused to avoid an allocation; the result may alias p or scratch.
//
// The cut is safe: it lies before a UTF-8 lead byte, and no valid character
// spans a lead byte, so decoding the emitted parts one by one gives what
// decoding the whole stream gives.
func (c *carry) join(p []byte, scratch *[]byte) []byte {
	b := p
	if c.n > 0 {
		*scratch = append(append((*scratch)[:0], c.buf[:c.n]...), p...)
		b = *scratch
		c.n = 0
	}
	cut := incompleteTail(b)
	c.n = copy(c.buf[:], b[cut:])
	return b[:cut]
}

// take returns and clears the carried bytes (an incomplete character that
// the stream never completed: invalid, it will encode as U+FFFD per byte).
func (c *carry) take() []byte {
	b := append([]byte(nil), c.buf[:c.n]...)
	c.n = 0
	return b
}

// incompleteTail returns the index where a trailing, valid-but-incomplete
// UTF-8 sequence starts, or len(b) when b does not end with one. Only the
// last utf8.UTFMax-1 bytes are examined. utf8.FullRune treats invalid
// sequences as complete, so only genuine prefixes are carried.
func incompleteTail(b []byte) int {
	for i := len(b) - 1; i >= 0 && i >= len(b)-(utf8.UTFMax-1); i-- {
		if utf8.RuneStart(b[i]) {
			if !utf8.FullRune(b[i:]) {
				return i
			}
			return len(b)
		}
	}
	return len(b)
}

// looksBinary is the heuristic for exec sessions without a PTY: a chunk is
// binary when it contains a NUL byte or invalid UTF-8. Terminal text
// (including escape sequences, tabs and CJK) is neither; compressed or
// archived data almost always is, within its first few bytes.
func looksBinary(b []byte) bool {
	return bytes.IndexByte(b, 0) >= 0 || !utf8.Valid(b)
}
