package castfile

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"

	"github.com/klauspost/compress/gzip"

	"github.com/jumpcast/jumpcast/recorder/asciicast"
)

// Reader reads one recording, raw (.cast), compressed (.cast.gz) or
// archived (.cast.zst), by
// chunks. Open learns the chunks (from the index file beside a compressed
// recording, or by one pass over the events) so that Keyframe and Events
// read only what they are asked for. Open emulates nothing: keyframes the
// index does not hold are made on demand (Keyframe, keyframes.go), so
// opening takes the same time whatever the recording's length. A Reader
// of an active recording sees it as it was flushed when Open ran.
//
// A Reader is safe for concurrent use: its methods read the file with
// ReadAt. Close releases the file.
type Reader struct {
	f    File
	gz   bool // compressed: gzip members, or zstd frames (zst)
	zst  bool // the archived format (zstd.go)
	hdr  asciicast.Header
	hdrN int64 // bytes before the first chunk: the header line, or its gzip member
	// idx is the index file, open while chunks have keyframes stored in it
	// (read on demand, so that Open reads none); nil otherwise.
	idx File
	// keep, when set, is where the keyframes made on demand are kept
	// (rel's index): only for a closed recording (its index has a
	// trailer matching the data's size).
	keep IndexKeeper
	rel  string
	// mu guards the keyframes of chunks (kf, lazy): those made on demand
	// are written under it. The rest of chunks is fixed at Open.
	mu     sync.Mutex
	chunks []chunk
}

// Compressed reports whether rel names a recording in the compressed
// format (".cast.gz") or the archived one (".cast.zst"), which have an
// index beside them; a raw one ends in ".cast".
func Compressed(rel string) bool { return strings.HasSuffix(rel, ".cast.gz") || Archived(rel) }

// Archived reports whether rel names a recording in the archived format.
func Archived(rel string) bool { return strings.HasSuffix(rel, ".cast.zst") }

// IndexPath returns the path of the index file beside the compressed
// recording rel: "<id>.cast.idx" for "<id>.cast.gz", "<id>.cast.zst.idx"
// for "<id>.cast.zst" (so that both may exist while one replaces the
// other).
func IndexPath(rel string) string {
	if Archived(rel) {
		return rel + ".idx"
	}
	return strings.TrimSuffix(rel, ".gz") + ".idx"
}

// Open opens the recording at rel through o: a raw asciicast v2 file
// (".cast"), read once to cut its chunks, or
// the compressed format (".cast.gz" and its index), whose index is used as
// far as it goes and completed from the data (an active recording, or one
// a crash left without its last index lines). A header that is missing or
// not asciicast v2 is an error.
func Open(o Opener, rel string) (*Reader, error) {
	f, err := o.Open(rel)
	if err != nil {
		return nil, err
	}
	r := &Reader{f: f, gz: Compressed(rel)}
	if r.gz {
		err = r.openCompressed(o, rel)
	} else {
		err = r.openRaw()
	}
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("read recording %s: %w", rel, err)
	}
	return r, nil
}

func parseHeader(line []byte) (asciicast.Header, error) {
	var h asciicast.Header
	if err := json.Unmarshal(line, &h); err != nil {
		return h, fmt.Errorf("asciicast header: %w", err)
	}
	if h.Version != 2 {
		return h, fmt.Errorf("asciicast version %d not supported (want 2)", h.Version)
	}
	if h.Width <= 0 || h.Height <= 0 {
		h.Width, h.Height = asciicast.DefaultWidth, asciicast.DefaultHeight
	}
	return h, nil
}

// openRaw reads the whole file once, cutting chunks every ChunkSpan
// seconds or ChunkBytes.
func (r *Reader) openRaw() error {
	size, err := r.size()
	if err != nil {
		return err
	}
	lr := newLineReader(io.NewSectionReader(r.f, 0, size), 0)
	line, _, err := lr.next()
	if err != nil {
		return errors.New("asciicast: no header")
	}
	if r.hdr, err = parseHeader(line); err != nil {
		return err
	}
	r.hdrN = lr.off
	b := newLazyBuilder(r.hdr.Width, r.hdr.Height)
	if err := scanLines(b, lr, true); err != nil {
		return err
	}
	b.end(lr.off)
	r.chunks = b.chunks
	return nil
}

// scanLines feeds lr's events to b; cut says whether b chooses the chunk
// boundaries (else the caller has begun one chunk for all of them).
func scanLines(b *builder, lr *lineReader, cut bool) error {
	return lr.events(func(ev asciicast.Event, at int64, n int) error {
		if cut && (!b.open || b.full(ev.Time)) {
			b.end(at)
			b.begin(at, ev.Time)
		}
		b.event(ev, n)
		return nil
	})
}

func (r *Reader) size() (int64, error) {
	st, err := r.f.Stat()
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}

// openCompressed reads the header member, the index, and the members the
// index does not describe yet.
func (r *Reader) openCompressed(o Opener, rel string) error {
	size, err := r.size()
	if err != nil {
		return err
	}
	r.zst = isZstd(r.f)
	var hdr []byte
	r.hdrN, err = r.members(0, size, func(off int64, z io.Reader) error {
		hdr, err = bufio.NewReader(z).ReadBytes('\n')
		if err != nil {
			return errors.New("asciicast: no header")
		}
		return io.EOF // only the first member
	})
	if err != nil {
		return err
	}
	if r.hdr, err = parseHeader(hdr); err != nil {
		return err
	}
	if o == nil {
		return nil // Repair, WriteIndex: the caller completes it from the data
	}
	if idx, err := o.Open(IndexPath(rel)); err == nil {
		p, err := parseIndex(idx)
		r.chunks = p.chunks
		if err != nil || len(r.chunks) > 0 && r.chunks[0].off != r.hdrN || len(r.chunks) > 0 && r.end() > size {
			r.chunks = nil // rebuilt from the data below
		} else if k, ok := o.(IndexKeeper); ok && p.closed == size && r.end() == size {
			r.keep, r.rel = k, rel
		}
		if r.chunks != nil && slices.ContainsFunc(r.chunks, func(c chunk) bool { return c.stored }) {
			r.idx = idx // the keyframes are read from it when asked for
		} else {
			_ = idx.Close()
		}
	}
	return r.complete(size, true)
}

// end is the offset just past the last known chunk.
func (r *Reader) end() int64 {
	if len(r.chunks) == 0 {
		return r.hdrN
	}
	c := r.chunks[len(r.chunks)-1]
	return c.off + c.n
}

// complete describes the members past the last indexed chunk, each one a
// chunk: lazy, without their keyframes (made on demand by Keyframe), or
// with them, starting from the screen the last indexed chunk leaves.
func (r *Reader) complete(size int64, lazy bool) error {
	from := r.end()
	if from >= size {
		return nil
	}
	if lazy {
		cols, rows := r.hdr.Width, r.hdr.Height
		if n := len(r.chunks); n > 0 {
			cols, rows = r.chunks[n-1].kf.Cols, r.chunks[n-1].kf.Rows // unused: Keyframe emulates the size
		}
		b := newLazyBuilder(cols, rows)
		b.chunks = r.chunks
		return r.scanMembers(b, from, size)
	}
	scr := NewScreen(r.hdr.Width, r.hdr.Height)
	defer func() { _ = scr.Close() }()
	if n := len(r.chunks); n > 0 {
		kf := r.chunks[n-1].kf
		scr.Resize(kf.Cols, kf.Rows)
		_, _ = scr.WriteString(kf.Paint)
		if err := r.Events(n-1, func(ev asciicast.Event) error { apply(scr, ev, nil); return nil }); err != nil {
			return err
		}
	}
	b := newBuilder(scr)
	b.chunks = r.chunks
	return r.scanMembers(b, from, size)
}

// scanMembers feeds b the members of the data from from to size, each one
// a chunk.
func (r *Reader) scanMembers(b *builder, from, size int64) error {
	_, err := r.members(from, size, func(off int64, z io.Reader) error {
		b.end(off)
		first := true
		return newLineReader(z, 0).events(func(ev asciicast.Event, _ int64, n int) error {
			if first {
				b.begin(off, ev.Time)
				first = false
			}
			b.event(ev, n)
			return nil
		})
	})
	b.end(size)
	r.chunks = b.chunks
	if err != nil && !errors.Is(err, errCut) {
		return err
	}
	return nil
}

// errCut is the end of a compressed recording that a crash (or the
// writer, for an active one) left in the middle of a member: what came
// before is read.
var errCut = errors.New("recording ends inside a compressed chunk")

// countingReader counts the bytes gzip takes from it. It is an
// io.ByteReader, so the decompressor reads no byte past a member's end.
type countingReader struct {
	br *bufio.Reader
	n  int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.br.Read(p)
	c.n += int64(n)
	return n, err
}

func (c *countingReader) ReadByte() (byte, error) {
	b, err := c.br.ReadByte()
	if err == nil {
		c.n++
	}
	return b, err
}

// members is eachMember or eachFrame, for r's format.
func (r *Reader) members(from, to int64, fn func(off int64, z io.Reader) error) (int64, error) {
	if r.zst {
		return eachFrame(r.f, from, to, fn)
	}
	return eachMember(r.f, from, to, fn)
}

// eachMember calls fn with the offset and the decompressed content of
// each gzip member of f between from and to, and returns the offset past
// the last member read. fn returning io.EOF stops early. A member cut
// short is given to fn, and eachMember then returns its offset and
// errCut; a member that does not start like gzip ends the walk with its
// offset and errCut too.
func eachMember(f io.ReaderAt, from, to int64, fn func(off int64, z io.Reader) error) (int64, error) {
	cr := &countingReader{br: bufio.NewReaderSize(io.NewSectionReader(f, from, to-from), 64<<10)}
	var z gzip.Reader
	for off := from; off < to; off = from + cr.n {
		if err := z.Reset(cr); err != nil {
			return off, errCut
		}
		z.Multistream(false)
		cut := &cutReader{r: &z}
		if err := fn(off, cut); err != nil {
			if errors.Is(err, io.EOF) {
				_, _ = io.Copy(io.Discard, cut)
				if cut.cut {
					return off, errCut
				}
				return from + cr.n, nil
			}
			return off, err
		}
		_, _ = io.Copy(io.Discard, cut)
		if cut.cut {
			return off, errCut
		}
	}
	return from + cr.n, nil
}

// cutReader turns a member cut short into io.EOF, noting it.
type cutReader struct {
	r   io.Reader
	cut bool
}

func (c *cutReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		c.cut = true
		err = io.EOF
	}
	return n, err
}

// Index returns what is known of the recording without reading events.
func (r *Reader) Index() Index {
	x := Index{Header: r.hdr, Chunks: make([]Chunk, len(r.chunks))}
	for i := range r.chunks {
		c := &r.chunks[i] // not its keyframe, which Keyframe may be making
		x.Chunks[i] = c.Chunk
		x.Markers = append(x.Markers, c.markers...)
		x.Duration = c.End
	}
	return x
}

// Events calls fn with chunk i's events, in order, and stops at fn's
// first error, which it returns.
func (r *Reader) Events(i int, fn func(asciicast.Event) error) error {
	if i < 0 || i >= len(r.chunks) {
		return errNoChunk(i, len(r.chunks))
	}
	c := r.chunks[i]
	var src io.Reader = io.NewSectionReader(r.f, c.off, c.n)
	if r.zst {
		plain, err := r.plainBytes(c.off, c.n)
		if err != nil {
			return fmt.Errorf("chunk %d: %w", i, err)
		}
		src = bytes.NewReader(plain)
	} else if r.gz {
		z, err := gzip.NewReader(bufio.NewReader(src))
		if err != nil {
			return fmt.Errorf("chunk %d: %w", i, err)
		}
		z.Multistream(false)
		src = &cutReader{r: z}
	}
	return eachEvent(src, func(ev asciicast.Event, _ int) error { return fn(ev) })
}

// WriteCast writes the whole recording as a plain asciicast v2 file: for a
// compressed one, what zcat would give; an active or cut recording ends at
// its last whole line.
func (r *Reader) WriteCast(w io.Writer) error {
	if !r.gz {
		_, err := copyLines(w, io.NewSectionReader(r.f, 0, r.end()))
		return err
	}
	_, err := r.members(0, r.end(), func(_ int64, z io.Reader) error {
		_, err := copyLines(w, z)
		return err
	})
	if errors.Is(err, errCut) {
		return nil
	}
	return err
}

// Close releases the files.
func (r *Reader) Close() error {
	if r.idx != nil {
		_ = r.idx.Close()
	}
	return r.f.Close()
}

func errNoChunk(i, n int) error { return fmt.Errorf("no chunk %d (recording has %d)", i, n) }
