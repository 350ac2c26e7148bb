package asciicast

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// appendEvent appends the JSON line body of one event — [time,"code","data"],
// without the newline — byte for byte what encoding/json writes for
// Event.tuple() with SetEscapeHTML(false) (TestAppendEventMatchesEncodingJSON,
// FuzzAppendJSONString). encoding/json costs half of a recording's CPU on
// text (reflection per event, then one rune decode per non-ASCII
// character); this skips plain ASCII 8 bytes at a time and checks runs of
// other characters with utf8.ValidString.
func appendEvent(dst []byte, t float64, code, data string) []byte {
	dst = append(dst, '[')
	dst = strconv.AppendFloat(dst, t, 'f', 6, 64)
	dst = append(dst, ',')
	dst = appendJSONString(dst, code)
	dst = append(dst, ',')
	dst = appendJSONString(dst, data)
	return append(dst, ']')
}

const (
	lsb = 0x0101010101010101 // 0x01 in every byte
	msb = 0x8080808080808080 // 0x80 in every byte
)

// plain8 reports whether none of the 8 bytes of x needs attention: each is
// ASCII, at least 0x20, and neither '"' nor '\\'. The tests are the
// classic exact "some byte is zero / less than n" bit tricks
// (graphics.stanford.edu/~seander/bithacks.html#HasLessInWord), valid once
// no byte has its top bit set, which x&msb checks.
func plain8(x uint64) bool {
	q := x ^ '"'*lsb  // zero bytes where x has '"'
	b := x ^ '\\'*lsb // zero bytes where x has '\\'
	less := (x - 0x20*lsb) &^ x
	quote := (q - lsb) &^ q
	slash := (b - lsb) &^ b
	return (x|less|quote|slash)&msb == 0
}

// load64 is s[i:i+8] as a little-endian word (one load once compiled).
func load64(s string, i int) uint64 {
	_ = s[i+7]
	return uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
		uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
}

// appendJSONString appends s as a quoted JSON string: '"' and '\\'
// backslashed, \b \f \n \r \t short, other control bytes as \u00XX,
// U+2028 and U+2029 escaped, each byte of invalid UTF-8 as \ufffd;
// everything else as it is.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start, i := 0, 0
	for {
		// Byte by byte first: terminal output is often short runs between
		// escape sequences. After 8 plain bytes, a word at a time.
		for n := min(i+8, len(s)); i < n && plainByte[s[i]]; {
			i++
			if i == n {
				for i+8 <= len(s) && plain8(load64(s, i)) {
					i += 8
				}
				n = len(s)
			}
		}
		if i == len(s) {
			break
		}
		b := s[i]
		if b >= utf8.RuneSelf {
			// A run of non-ASCII bytes: if it is valid UTF-8 without
			// U+2028/U+2029 (both start with 0xE2), it goes out as it is.
			j := i + 1
			for j < len(s) && s[j] >= utf8.RuneSelf {
				j++
			}
			run := s[i:j]
			if utf8.ValidString(run) && (strings.IndexByte(run, 0xE2) < 0 ||
				!strings.Contains(run, "\u2028") && !strings.Contains(run, "\u2029")) {
				i = j
				continue
			}
			dst = append(dst, s[start:i]...)
			dst = appendRunSlow(dst, run)
			i, start = j, j
			continue
		}
		dst = append(dst, s[start:i]...)
		switch b {
		case '\\', '"':
			dst = append(dst, '\\', b)
		case '\b':
			dst = append(dst, '\\', 'b')
		case '\f':
			dst = append(dst, '\\', 'f')
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
		}
		i++
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// plainByte is plain8's rule for one byte.
var plainByte = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

const hexDigits = "0123456789abcdef"

// appendRunSlow appends a run of non-ASCII bytes rune by rune: invalid
// bytes become \ufffd, U+2028 and U+2029 are escaped.
func appendRunSlow(dst []byte, run string) []byte {
	start := 0
	for i := 0; i < len(run); {
		c, size := utf8.DecodeRuneInString(run[i:])
		switch {
		case c == utf8.RuneError && size == 1:
			dst = append(dst, run[start:i]...)
			dst = append(dst, `\ufffd`...)
		case c == '\u2028' || c == '\u2029':
			dst = append(dst, run[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[c&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	return append(dst, run[start:]...)
}
