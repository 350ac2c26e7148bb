package castfile

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// The archived format is the compressed one with each member replaced by
// a zstd frame (RFC 8878) compressed at zstd's best level: "<id>.cast.zst"
// beside its index "<id>.cast.zst.idx". Concatenated frames are one zstd
// stream, so `zstdcat <id>.cast.zst` prints the plain .cast. Only Archive
// writes it, whole, from a closed recording: a session never appends to
// it, and its index is complete from the start.

// zstdMagic starts every zstd frame; gzip members start with 0x1f 0x8b.
var zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}

// maxFrame bounds what one frame may decode to (a chunk is ChunkBytes of
// event lines plus the last event): a corrupt or hostile file cannot make
// a reader allocate more.
const maxFrame = 64 << 20

var (
	// zdec decodes whole frames (DecodeAll, safe for concurrent use).
	zdec = sync.OnceValue(func() *zstd.Decoder {
		d, _ := zstd.NewReader(nil, zstd.WithDecoderConcurrency(0), zstd.WithDecoderMaxMemory(maxFrame), zstd.WithDecoderLowmem(true))
		return d
	})
	// zenc compresses chunks for Archive (EncodeAll, safe for concurrent
	// use), one at a time per CPU.
	zenc = sync.OnceValue(func() *zstd.Encoder {
		e, _ := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedBestCompression), zstd.WithEncoderConcurrency(1))
		return e
	})
)

// isZstd reports whether the data file f starts with a zstd frame.
func isZstd(f io.ReaderAt) bool {
	var b [4]byte
	_, err := f.ReadAt(b[:], 0)
	return err == nil && bytes.Equal(b[:], zstdMagic)
}

// readFrame appends to buf the next whole zstd frame of br, read by its
// headers without decoding it. io.EOF: br is at its end; errCut: the
// bytes there are not a whole frame.
func readFrame(br *bufio.Reader, buf []byte) ([]byte, error) {
	head, err := br.Peek(5)
	if len(head) == 0 && errors.Is(err, io.EOF) {
		return buf, io.EOF
	}
	if len(head) < 5 || !bytes.Equal(head[:4], zstdMagic) {
		return buf, errCut
	}
	fhd := head[4]
	n := 5
	single := fhd&0x20 != 0
	if !single {
		n++ // window descriptor
	}
	n += [4]int{0, 1, 2, 4}[fhd&3] // dictionary id
	fcs := [4]int{0, 2, 4, 8}[fhd>>6]
	if fcs == 0 && single {
		fcs = 1
	}
	n += fcs
	take := func(k int) error {
		start := len(buf)
		buf = append(buf, make([]byte, k)...)
		if _, err := io.ReadFull(br, buf[start:]); err != nil {
			return errCut
		}
		return nil
	}
	if err := take(n); err != nil {
		return buf, err
	}
	for last := false; !last; {
		if err := take(3); err != nil {
			return buf, err
		}
		h := uint32(buf[len(buf)-3]) | uint32(buf[len(buf)-2])<<8 | uint32(buf[len(buf)-1])<<16
		last = h&1 != 0
		size := int(h >> 3)
		switch (h >> 1) & 3 {
		case 1: // RLE: one byte repeated size times
			size = 1
		case 3:
			return buf, errCut
		}
		if size > maxFrame {
			return buf, errCut
		}
		if err := take(size); err != nil {
			return buf, err
		}
	}
	if fhd&4 != 0 {
		if err := take(4); err != nil { // content checksum
			return buf, err
		}
	}
	return buf, nil
}

// decodeFrame decodes one whole frame.
func decodeFrame(frame []byte) ([]byte, error) {
	out, err := zdec().DecodeAll(frame, nil)
	if err != nil {
		return nil, fmt.Errorf("zstd: %w", err)
	}
	return out, nil
}

// eachFrame is eachMember for the archived format.
func eachFrame(f io.ReaderAt, from, to int64, fn func(off int64, z io.Reader) error) (int64, error) {
	br := bufio.NewReaderSize(io.NewSectionReader(f, from, to-from), 64<<10)
	var frame []byte
	off := from
	for off < to {
		var err error
		frame, err = readFrame(br, frame[:0])
		if err != nil {
			return off, errCut
		}
		plain, err := decodeFrame(frame)
		if err != nil {
			return off, errCut
		}
		if err := fn(off, bytes.NewReader(plain)); err != nil {
			if errors.Is(err, io.EOF) {
				return off + int64(len(frame)), nil
			}
			return off, err
		}
		off += int64(len(frame))
	}
	return off, nil
}

// Archive writes the recording r (closed, in any format) in the archived
// format: to data its header and each of its chunks as zstd frames, to
// index the index with the same chunks, markers and keyframes (those r's
// index holds; the others are left to be made on demand, or by
// WriteIndex), closed. It returns the size of what it wrote to data. The
// plain stream data decodes to is r's (the caller checks it: see
// recorder.Dir.Compact).
func Archive(data, index io.Writer, r *Reader) (int64, error) {
	hdr, err := r.plainBytes(0, r.hdrN)
	if err != nil {
		return 0, fmt.Errorf("archive: header: %w", err)
	}
	enc := zenc()
	frame := enc.EncodeAll(hdr, nil)
	if _, err := data.Write(frame); err != nil {
		return 0, err
	}
	size := int64(len(frame))
	out := &Reader{f: r.f, idx: r.idx, chunks: make([]chunk, len(r.chunks))}
	for i, c := range r.chunks {
		plain, err := r.plainBytes(c.off, c.n)
		if err != nil {
			return 0, fmt.Errorf("archive: chunk %d: %w", i, err)
		}
		frame = enc.EncodeAll(plain, frame[:0])
		if _, err := data.Write(frame); err != nil {
			return 0, err
		}
		c.off, c.n = size, int64(len(frame))
		out.chunks[i] = c
		size += c.n
	}
	return size, out.writeIndexTo(index, size)
}

// plainBytes returns the plain stream of the member, frame or raw bytes
// at off, n bytes long.
func (r *Reader) plainBytes(off, n int64) ([]byte, error) {
	if r.gz && !r.zst {
		var plain bytes.Buffer
		_, err := eachMember(r.f, off, off+n, func(_ int64, z io.Reader) error {
			_, err := plain.ReadFrom(z)
			return err
		})
		return plain.Bytes(), err
	}
	src := make([]byte, n)
	if _, err := r.f.ReadAt(src, off); err != nil {
		return nil, err
	}
	if r.zst {
		return decodeFrame(src)
	}
	return src, nil
}
