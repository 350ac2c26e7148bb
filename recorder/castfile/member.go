package castfile

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/klauspost/compress/flate"
)

// histSize is how much of a member's latest data a Writer keeps while no
// compressor is borrowed: the dictionary the next compressor starts
// from, so that a screen redrawn every few seconds (top, watch) still
// compresses against the previous one.
const histSize = 8 << 10

// compressors are the deflate compressors of every Writer in the process,
// borrowed while a session's output flows and given back when it goes
// quiet (Writer.Quiet): each one holds about 700 KB of match tables and
// window, which an idle session need not keep.
var compressors = sync.Pool{New: func() any {
	fw, _ := flate.NewWriter(nil, Level) // Level is valid
	return fw
}}

// borrowed counts the compressors Writers hold now, between writes
// included. Past maxKept, a member gives its compressor back after each
// write instead of at the next quiet moment: with many sessions printing
// at once (50 parallel bulk copies) the process then holds about maxKept
// of them plus those compressing at that instant, not one per session.
// The next write borrows one primed with the last histSize bytes, as
// after Quiet; the cost is that priming, and a slightly worse ratio, for
// those sessions only while so many are busy.
var borrowed atomic.Int64

// maxKept: four per CPU the process may use, at least 8; a few MB.
var maxKept = int64(max(8, 4*runtime.GOMAXPROCS(0)))

// gzipHeader is the header of every member: no name, no time, deflate,
// XFL 4 (fastest), OS unknown — what klauspost/compress/gzip writes at
// Level.
var gzipHeader = []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 4, 0xff}

// member writes one gzip member (RFC 1952) into a buffer: the header,
// then a deflate stream made, flush by flush, by compressors borrowed
// from the pool — a compressor given back between two flushes is
// replaced by a fresh one primed with the last histSize bytes, whose
// blocks continue the same stream (a deflate stream is a sequence of
// blocks; after a sync flush any encoder may write the next one, and
// back-references reach data the decoder has already produced) — then
// the trailer (CRC-32 and size of the data). Not safe for concurrent use.
type member struct {
	buf  *bytes.Buffer
	fw   *flate.Writer // borrowed; nil while released
	crc  uint32
	size uint32 // of the data, mod 2^32
	hist []byte
}

// begin starts a member in buf.
func (m *member) begin(buf *bytes.Buffer) {
	m.buf, m.crc, m.size, m.hist = buf, 0, 0, m.hist[:0]
	buf.Write(gzipHeader)
}

// write compresses p and sync-flushes it: buf then ends on a byte
// boundary where everything written decodes.
func (m *member) write(p []byte) {
	m.borrow()
	_, _ = m.fw.Write(p) // into a bytes.Buffer: no error
	_ = m.fw.Flush()
	m.crc = crc32.Update(m.crc, crc32.IEEETable, p)
	m.size += uint32(len(p))
	if len(p) >= histSize {
		m.hist = append(m.hist[:0], p[len(p)-histSize:]...)
	} else {
		keep := min(len(m.hist), histSize-len(p))
		m.hist = append(m.hist[:copy(m.hist, m.hist[len(m.hist)-keep:])], p...)
	}
	if borrowed.Load() > maxKept {
		m.release()
	}
}

// end ends the member: the last block and the trailer.
func (m *member) end() {
	m.borrow()
	_ = m.fw.Close()
	m.release()
	var t [8]byte
	binary.LittleEndian.PutUint32(t[:4], m.crc)
	binary.LittleEndian.PutUint32(t[4:], m.size)
	m.buf.Write(t[:])
	m.hist = m.hist[:0]
}

func (m *member) borrow() {
	if m.fw == nil {
		m.fw = compressors.Get().(*flate.Writer)
		m.fw.ResetDict(m.buf, m.hist)
		borrowed.Add(1)
	}
}

// release gives the compressor back (after a flush: nothing is pending
// in it).
func (m *member) release() {
	if m.fw != nil {
		m.fw.ResetDict(nil, nil) // drop references to buf and hist
		compressors.Put(m.fw)
		m.fw = nil
		borrowed.Add(-1)
	}
}
