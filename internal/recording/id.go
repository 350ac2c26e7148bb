package recording

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"
)

// A recording id is "20261124T093012.345678Z-3f9a1c2b": the session's start
// in UTC to the microsecond, fixed width, then 8 random hex digits. Ids sort
// as bytes in start order, so a bbolt key range is a time range, and an id
// names its own day folder (RelPath). Ids are made by the server only
// (NewID); they contain no user-controlled text.
const (
	// idLayout is the time part of an id, for time.Format and time.Parse.
	idLayout = "20060102T150405.000000Z"
	// idPattern is the shape ValidID accepts, byte for byte: '9' a decimal
	// digit, 'f' a lower-case hex digit, anything else itself.
	idPattern = "99999999T999999.999999Z-ffffffff"

	// TimePrefixLen is the length of an id's time part (TimePrefix).
	TimePrefixLen = len(idLayout)
	// IDLen is the length of every valid id; stores rely on it to split
	// a key that ends with an id.
	IDLen = len(idPattern)
)

// NewID returns a new id for a session starting at t, e.g.
// "20261124T093012.345678Z-3f9a1c2b". Its first TimePrefixLen bytes are
// TimePrefix(t).
func NewID(t time.Time) string {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("recording: crypto/rand: %v", err)) // never fails on Linux
	}
	return TimePrefix(t) + "-" + hex.EncodeToString(b[:])
}

// TimePrefix returns the time part of the ids NewID makes at t. It is
// monotonic: t1 <= t2 implies TimePrefix(t1) <= TimePrefix(t2) as strings
// (t is truncated to the microsecond), so it bounds a key range of ids.
func TimePrefix(t time.Time) string { return t.UTC().Format(idLayout) }

// ValidID reports whether s has exactly the shape NewID makes: digits, the
// separators and 8 lower-case hex digits at their places. It does not check
// that the date exists (IDTime does). Anything that names a recording from
// outside (a URL, a CLI argument, a bbolt key) is checked with it before
// use. It does not allocate.
func ValidID(s string) bool {
	if len(s) != IDLen {
		return false
	}
	for i := 0; i < IDLen; i++ {
		c := s[i]
		switch p := idPattern[i]; p {
		case '9':
			if c < '0' || c > '9' {
				return false
			}
		case 'f':
			if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
				return false
			}
		default:
			if c != p {
				return false
			}
		}
	}
	return true
}

// IDTime returns the start time encoded in id, in UTC. It fails for an id
// ValidID refuses and for a well-formed one whose date or time does not
// exist (month 13, 25 o'clock), which NewID never makes.
func IDTime(id string) (time.Time, error) {
	if !ValidID(id) {
		return time.Time{}, fmt.Errorf("invalid recording id %q", id)
	}
	t, err := time.Parse(idLayout, id[:TimePrefixLen])
	if err != nil {
		return time.Time{}, fmt.Errorf("invalid recording id %q: %w", id, err)
	}
	return t, nil
}

// RelPath returns the path of id's file relative to the recordings folder,
// "YYYY/MM/DD/<id>.cast", the date being the id's. It is derived from the
// id alone and must never change: the store does not keep a Meta.Path that
// RelPath gives back. It fails only for an id ValidID refuses; it is cheap
// (no time parsing), for the store's row decoding.
func RelPath(id string) (string, error) {
	if !ValidID(id) {
		return "", fmt.Errorf("invalid recording id %q", id)
	}
	return id[0:4] + "/" + id[4:6] + "/" + id[6:8] + "/" + id + ".cast", nil
}
