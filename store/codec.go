package store

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/jumpcast/jumpcast/internal/recording"
)

// A recording row is a compact binary record rather than JSON: at a
// million rows it is about 2.5 times smaller, and a list page or a
// free-text scan can check a row's fields without allocating (rowView).
//
//	[0]    codecVersion
//	[1:9]  duration, nanoseconds, big-endian (fixed offset: rowDuration)
//	[9]    flags (flagStart, flagEnd, flagExit, flagCommandLen …)
//	varint start, end, exit status (each only when its flag is set)
//	varint width, height, bytes in, bytes out, file size
//	15 × (uvarint length, bytes): the string fields in field order
//	varint command length (only when flagCommandLen is set)
//	uvarint length, bytes: the node id (only when flagNode is set)
//	uvarint length, bytes: the location (only when flagLocation is set)
//
// The id is the key and is not repeated; neither is a Path that the id
// determines (YYYY/MM/DD/<id>.cast), and a hex SHA-256 is stored as its 32
// bytes. Times are stored as Unix nanoseconds and read back in UTC.
const codecVersion = 1

const (
	flagStart = 1 << iota
	flagEnd
	flagExit
	flagPathDerived // Path is recording.RelPath(id) and not stored
	flagSHARaw      // SHA256 is stored as 32 raw bytes, not 64 hex digits
	flagCommandLen  // the command was cut: its whole length follows the strings
	flagNode        // the recording node's id follows (after the command length)
	flagLocation    // the recording's location follows (after the node)
)

// String fields of a row, in encoding order.
const (
	fUser = iota
	fKeyFingerprint
	fRemoteUser
	fTargetAlias
	fTargetAddr
	fClientAddr
	fKind
	fCommand
	fTitle
	fTerm
	fExitSignal
	fStatus
	fError
	fPath
	fSHA256
	numStrFields
)

var errCorruptRow = errors.New("corrupt recording row")

func strFields(r *recording.Meta) [numStrFields]string {
	return [numStrFields]string{
		fUser: r.User, fKeyFingerprint: r.KeyFingerprint, fRemoteUser: r.RemoteUser,
		fTargetAlias: r.TargetAlias, fTargetAddr: r.TargetAddr, fClientAddr: r.ClientAddr,
		fKind: r.Kind, fCommand: r.Command, fTitle: r.Title, fTerm: r.Term,
		fExitSignal: r.ExitSignal, fStatus: string(r.Status), fError: r.Error, fPath: r.Path, fSHA256: r.SHA256,
	}
}

// encodeRow returns r's row bytes (r.ID is the key and is not included).
func encodeRow(r *recording.Meta) []byte {
	strs := strFields(r)
	var flags byte
	if p, err := recording.RelPath(r.ID); err == nil && r.Path == p {
		flags |= flagPathDerived
		strs[fPath] = ""
	}
	if raw, err := hex.DecodeString(r.SHA256); err == nil && len(raw) == sha256.Size && hex.EncodeToString(raw) == r.SHA256 {
		flags |= flagSHARaw
		strs[fSHA256] = string(raw)
	}
	n := 10 + 8*binary.MaxVarintLen64
	for _, s := range strs {
		n += binary.MaxVarintLen64 + len(s)
	}
	b := make([]byte, 10, n)
	b[0] = codecVersion
	binary.BigEndian.PutUint64(b[1:9], durKey(r.Duration))
	if !r.Start.IsZero() {
		flags |= flagStart
		b = binary.AppendVarint(b, r.Start.UnixNano())
	}
	if !r.End.IsZero() {
		flags |= flagEnd
		b = binary.AppendVarint(b, r.End.UnixNano())
	}
	if r.ExitStatus != nil {
		flags |= flagExit
		b = binary.AppendVarint(b, int64(*r.ExitStatus))
	}
	b[9] = flags
	for _, v := range []int64{int64(r.Width), int64(r.Height), r.BytesIn, r.BytesOut, r.FileSize} {
		b = binary.AppendVarint(b, v)
	}
	for _, s := range strs {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	// Last, so that a jumpcast from before it (which ignores bytes after
	// the strings and flags it does not know) still reads the row.
	if r.CommandLen > 0 {
		b[9] |= flagCommandLen
		b = binary.AppendVarint(b, int64(r.CommandLen))
	}
	if r.Node != "" {
		b[9] |= flagNode
		b = binary.AppendUvarint(b, uint64(len(r.Node)))
		b = append(b, r.Node...)
	}
	if r.Location != "" {
		b[9] |= flagLocation
		b = binary.AppendUvarint(b, uint64(len(r.Location)))
		b = append(b, r.Location...)
	}
	return b
}

// rowView is a parsed row whose string fields still point into the bbolt
// page: valid only inside the transaction that read it. It lets filters
// check rows without allocating.
type rowView struct {
	dur        uint64
	flags      byte
	start, end int64
	exit       int64
	commandLen int64
	node       []byte
	location   []byte
	ints       [5]int64 // width, height, bytes in, bytes out, file size
	s          [numStrFields][]byte
}

// parse fills v from row bytes.
func (v *rowView) parse(b []byte) error {
	if len(b) < 10 || b[0] != codecVersion {
		return errCorruptRow
	}
	v.dur = binary.BigEndian.Uint64(b[1:9])
	v.flags = b[9]
	p := b[10:]
	next := func() (int64, bool) {
		x, n := binary.Varint(p)
		if n <= 0 {
			return 0, false
		}
		p = p[n:]
		return x, true
	}
	ok := true
	v.start, v.end, v.exit, v.commandLen = 0, 0, 0, 0
	if v.flags&flagStart != 0 && ok {
		v.start, ok = next()
	}
	if v.flags&flagEnd != 0 && ok {
		v.end, ok = next()
	}
	if v.flags&flagExit != 0 && ok {
		v.exit, ok = next()
	}
	for i := range v.ints {
		if ok {
			v.ints[i], ok = next()
		}
	}
	if !ok {
		return errCorruptRow
	}
	for i := range v.s {
		l, n := binary.Uvarint(p)
		if n <= 0 || uint64(len(p)-n) < l {
			return errCorruptRow
		}
		v.s[i] = p[n : n+int(l) : n+int(l)]
		p = p[n+int(l):]
	}
	if v.flags&flagCommandLen != 0 {
		if v.commandLen, ok = next(); !ok {
			return errCorruptRow
		}
	}
	v.node, v.location = nil, nil
	for _, f := range []struct {
		flag byte
		dst  *[]byte
	}{{flagNode, &v.node}, {flagLocation, &v.location}} {
		if v.flags&f.flag == 0 {
			continue
		}
		l, n := binary.Uvarint(p)
		if n <= 0 || uint64(len(p)-n) < l {
			return errCorruptRow
		}
		*f.dst = p[n : n+int(l) : n+int(l)]
		p = p[n+int(l):]
	}
	return nil
}

// startTime returns the row's start (zero when unset).
func (v *rowView) startTime() time.Time {
	if v.flags&flagStart == 0 {
		return time.Time{}
	}
	return time.Unix(0, v.start).UTC()
}

// recording copies the view into a recording.Meta with the given id.
func (v *rowView) recording(id string) recording.Meta {
	r := recording.Meta{
		ID:             id,
		User:           string(v.s[fUser]),
		KeyFingerprint: string(v.s[fKeyFingerprint]),
		RemoteUser:     string(v.s[fRemoteUser]),
		TargetAlias:    string(v.s[fTargetAlias]),
		TargetAddr:     string(v.s[fTargetAddr]),
		ClientAddr:     string(v.s[fClientAddr]),
		Kind:           string(v.s[fKind]),
		Command:        string(v.s[fCommand]),
		CommandLen:     int(v.commandLen),
		Node:           string(v.node),
		Location:       string(v.location),
		Title:          string(v.s[fTitle]),
		Term:           string(v.s[fTerm]),
		ExitSignal:     string(v.s[fExitSignal]),
		Status:         recording.Status(v.s[fStatus]),
		Error:          string(v.s[fError]),
		Path:           string(v.s[fPath]),
		SHA256:         string(v.s[fSHA256]),
		Width:          int(v.ints[0]),
		Height:         int(v.ints[1]),
		BytesIn:        v.ints[2],
		BytesOut:       v.ints[3],
		FileSize:       v.ints[4],
		Duration:       time.Duration(v.dur),
		Start:          v.startTime(),
	}
	if v.flags&flagEnd != 0 {
		r.End = time.Unix(0, v.end).UTC()
	}
	if v.flags&flagExit != 0 {
		e := int(v.exit)
		r.ExitStatus = &e
	}
	if v.flags&flagPathDerived != 0 {
		r.Path, _ = recording.RelPath(id) // valid: the flag is set only for a valid id
	}
	if v.flags&flagSHARaw != 0 {
		r.SHA256 = hex.EncodeToString(v.s[fSHA256])
	}
	return r
}

// decodeRow parses row bytes into a recording.Meta (copying everything out of
// the page).
func decodeRow(id string, b []byte) (recording.Meta, error) {
	var v rowView
	if err := v.parse(b); err != nil {
		return recording.Meta{}, fmt.Errorf("recording %s: %w", id, err)
	}
	return v.recording(id), nil
}

// durKey maps a duration to its sort key; negative durations count as 0.
func durKey(d time.Duration) uint64 {
	if d < 0 {
		return 0
	}
	return uint64(d)
}
