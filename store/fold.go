package store

import (
	"unicode"
	"unicode/utf8"
)

// decodeRune decodes the first rune of s (utf8.RuneError, 1 for an
// invalid byte).
func decodeRune(s []byte) (rune, int) {
	if s[0] < utf8.RuneSelf {
		return rune(s[0]), 1
	}
	return utf8.DecodeRune(s)
}

// equalFoldRune reports whether a and b are equal under simple Unicode
// case folding (as strings.EqualFold does rune by rune).
func equalFoldRune(a, b rune) bool {
	if a == b {
		return true
	}
	if a < utf8.RuneSelf && b < utf8.RuneSelf {
		return 'A' <= a && a <= 'Z' && a+'a'-'A' == b || 'A' <= b && b <= 'Z' && b+'a'-'A' == a
	}
	for r := unicode.SimpleFold(a); r != a; r = unicode.SimpleFold(r) {
		if r == b {
			return true
		}
	}
	return false
}
