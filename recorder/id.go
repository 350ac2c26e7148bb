package recorder

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"path"
	"regexp"
	"time"
)

// idLayout is the time part of a recording id: fixed width, UTC, so that ids
// sort as bytes in start order and name their own day folder.
const idLayout = "20060102T150405.000000Z"

var idRE = regexp.MustCompile(`^[0-9]{8}T[0-9]{6}\.[0-9]{6}Z-[0-9a-f]{8}$`)

// NewID returns a new time-ordered recording id for a session starting at
// t, e.g. "20261124T093012.345678Z-3f9a1c2b". Ids are made by the server
// only; they contain no user-controlled text.
func NewID(t time.Time) string {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("recorder: crypto/rand: %v", err)) // never fails on Linux
	}
	return t.UTC().Format(idLayout) + "-" + hex.EncodeToString(b[:])
}

// ValidID reports whether s has exactly the form NewID makes. Anything that
// names a recording from outside (a URL, a CLI argument) is checked with it
// before use.
func ValidID(s string) bool { return idRE.MatchString(s) }

// IDTime returns the start time encoded in a valid id.
func IDTime(id string) (time.Time, error) {
	if !ValidID(id) {
		return time.Time{}, fmt.Errorf("invalid recording id %q", id)
	}
	return time.Parse(idLayout, id[:len(idLayout)])
}

// RelPath returns the file's path relative to the recordings folder:
// "YYYY/MM/DD/<id>.cast". It is derived from the id alone.
func RelPath(id string) (string, error) {
	t, err := IDTime(id)
	if err != nil {
		return "", err
	}
	return path.Join(t.Format("2006"), t.Format("01"), t.Format("02"), id+".cast"), nil
}
