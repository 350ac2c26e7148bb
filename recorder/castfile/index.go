package castfile

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/jumpcast/jumpcast/recorder/asciicast"
)

// Chunk sizes: a chunk closes at its first flush ChunkSpan seconds after
// its first event, or once ChunkBytes of event lines were written to it,
// whichever comes first (Warpgate's keyframe spacing). A seek replays at
// most one chunk after its keyframe.
const (
	ChunkSpan  = 10.0
	ChunkBytes = 256 << 10
)

// Opener opens recording files by their path relative to the recordings
// folder: recorder.Dir.Files (this node's folder), or whatever also reads
// the shared bucket.
type Opener interface {
	Open(rel string) (File, error)
}

// File is an open recording file, read at any offset (a Reader reads only
// through ReadAt, so a file in a bucket is read by ranged requests) or
// from its start. *os.File satisfies it.
type File interface {
	io.Reader
	io.ReaderAt
	io.Closer
	Stat() (os.FileInfo, error)
}

// Keyframe is the screen at the start of a chunk.
type Keyframe struct {
	// At is the time, in seconds into the recording, of the screen: just
	// before the chunk's first event.
	At         float64
	Cols, Rows int
	// Paint is VT bytes that, written to a freshly reset terminal of
	// Cols×Rows, reproduce the screen: cells, colours and attributes,
	// wide characters, the alternate screen over the main one, the scroll
	// region, the modes that matter (cursor keys, origin, autowrap, keypad,
	// bracketed paste, mouse reporting) and the cursor's position and
	// visibility. See Screen.Paint for what it leaves out.
	Paint string
	// Approx is set on a keyframe made on demand too far from an exact
	// one to replay now (see Reader.Keyframe): the screen the last output
	// leaves on a blank terminal, right for scrolling text only.
	Approx bool
}

// Chunk describes a run of consecutive events.
type Chunk struct {
	Start, End float64 // time of its first and last event, seconds
	Events     int
	OutBytes   int64 // bytes of "o" data, for an activity bar
}

// Marker is an "m" event: a labelled moment.
type Marker struct {
	At    float64
	Label string
}

// Index is what a Reader knows of a recording without reading its events.
type Index struct {
	Header   asciicast.Header
	Duration float64 // time of the last event, seconds
	Chunks   []Chunk
	Markers  []Marker
}

// indexMagic is the first line of an index file.
const indexMagic = `{"format":"jumpcast-cast-index","version":1}`

// indexLine is one line of an index file (after the first): one closed
// chunk of the data file, a gzip member.
type indexLine struct {
	Off     int64        `json:"off"` // the member's first byte in the data file
	Len     int64        `json:"len"` // the member's length in bytes
	Start   float64      `json:"start"`
	End     float64      `json:"end"`
	Events  int          `json:"events"`
	Out     int64        `json:"out"`
	Markers []markerJSON `json:"markers,omitempty"`
	// Resize is the chunk's last resize ("WxH"), if any: the size an
	// approximate keyframe after it starts from, without reading the
	// chunks between.
	Resize string `json:"resize,omitempty"`
	// Keyframe is nil in an index written without emulation (the
	// session's, or a reader's cache of what it computed): the screen is
	// then made on demand (Reader.Keyframe).
	Keyframe *keyframeJSON `json:"keyframe,omitempty"`
}

// trailerLine is the last line of the index of a closed recording: the
// data file will not grow, and whether every chunk's keyframe is in the
// index. An index without it belongs to a recording still being written,
// or one indexed before trailers existed.
type trailerLine struct {
	Closed    int64 `json:"closed"` // the data file's size
	Keyframes bool  `json:"keyframes"`
}

type markerJSON struct {
	At    float64 `json:"at"`
	Label string  `json:"label"`
}

type keyframeJSON struct {
	At    float64 `json:"at"`
	Cols  int     `json:"cols"`
	Rows  int     `json:"rows"`
	Paint string  `json:"paint"`
}

// chunk is a Chunk with where its events are and what it starts from.
type chunk struct {
	Chunk
	off, n int64 // its bytes in the data file: raw lines, or one gzip member
	kf     Keyframe
	lazy   bool // kf holds only At: its screen is made on demand (Reader.Keyframe)
	// stored: the keyframe is in the index file at kfOff, kfLen bytes of
	// JSON, read when asked for (kf holds only At): opening a recording
	// reads no keyframe.
	stored       bool
	kfOff, kfLen int64
	markers      []Marker
	resize       string // the last resize event's data in the chunk ("WxH"), if any
}

func (c *chunk) line() []byte {
	l := indexLine{Off: c.off, Len: c.n, Start: c.Start, End: c.End, Events: c.Events, Out: c.OutBytes, Resize: c.resize}
	if !c.lazy {
		l.Keyframe = &keyframeJSON{At: c.kf.At, Cols: c.kf.Cols, Rows: c.kf.Rows, Paint: c.kf.Paint}
	}
	for _, m := range c.markers {
		l.Markers = append(l.Markers, markerJSON(m))
	}
	b, err := json.Marshal(l)
	if err != nil { // only floats that are not numbers: never produced
		panic(err)
	}
	return append(b, '\n')
}

// trailer returns the index's last line for a closed recording of size
// bytes whose chunks are cs.
func trailer(size int64, cs []chunk) []byte {
	t := trailerLine{Closed: size, Keyframes: true}
	for i := range cs {
		t.Keyframes = t.Keyframes && !cs[i].lazy
	}
	b, _ := json.Marshal(t) // plain numbers and a bool: never fails
	return append(b, '\n')
}

// parsedIndex is what an index file says.
type parsedIndex struct {
	chunks []chunk
	closed int64 // the data file's size at close; 0: no trailer
}

// kfField introduces the keyframe in an index line. It is the line's last
// field, and cannot occur inside a string of the line (a '"' there is
// escaped).
var kfField = []byte(`,"keyframe":{`)

// parseIndex reads an index file's chunks and trailer, all but the
// keyframes: each one's place in the file is noted (chunk.stored). A last
// line cut by a crash ends it; anything else malformed is an error.
func parseIndex(rd io.Reader) (parsedIndex, error) {
	br := bufio.NewReaderSize(rd, 1<<20)
	first, err := readLine(br)
	if err != nil || string(first) != indexMagic+"\n" {
		return parsedIndex{}, fmt.Errorf("not a recording index")
	}
	off := int64(len(first))
	var out []chunk
	var closed int64
	for {
		line, err := readLine(br)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return parsedIndex{}, fmt.Errorf("read recording index: %w", err)
		}
		at := off
		off += int64(len(line))
		body := line[:len(line)-1]
		if bytes.HasPrefix(body, []byte(`{"closed":`)) {
			var t trailerLine
			if err := json.Unmarshal(body, &t); err != nil {
				return parsedIndex{}, fmt.Errorf("recording index line %d: bad trailer", len(out)+2)
			}
			closed = t.Closed
			break
		}
		var kfOff, kfLen int64
		if k := bytes.Index(body, kfField); k >= 0 && body[len(body)-1] == '}' {
			start := k + len(kfField) - 1 // the keyframe's '{'
			kfOff, kfLen = at+int64(start), int64(len(body)-1-start)
			body = append(body[:k:k], '}')
		}
		var l indexLine
		if err := json.Unmarshal(body, &l); err != nil {
			return parsedIndex{}, fmt.Errorf("recording index line %d: %w", len(out)+2, err)
		}
		c := chunk{Chunk: Chunk{Start: l.Start, End: l.End, Events: l.Events, OutBytes: l.Out},
			off: l.Off, n: l.Len, kf: Keyframe{At: l.Start}, lazy: kfLen == 0, stored: kfLen > 0, kfOff: kfOff, kfLen: kfLen,
			resize: l.Resize}
		for _, m := range l.Markers {
			c.markers = append(c.markers, Marker(m))
		}
		if l.Off < 0 || l.Len <= 0 || len(out) > 0 && l.Off != out[len(out)-1].off+out[len(out)-1].n {
			return parsedIndex{}, fmt.Errorf("recording index line %d: chunks not contiguous", len(out)+2)
		}
		out = append(out, c)
	}
	return parsedIndex{chunks: out, closed: closed}, nil
}

// readLine returns the next whole line with its newline (valid until the
// next read); io.EOF when none is left whole.
func readLine(br *bufio.Reader) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		long := append([]byte(nil), line...)
		var rest []byte
		rest, err = br.ReadBytes('\n')
		line = append(long, rest...)
	}
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, io.EOF
		}
		return nil, err
	}
	return line, nil
}

// loadKeyframe reads a stored keyframe from the index file idx.
func loadKeyframe(idx io.ReaderAt, c *chunk) (Keyframe, error) {
	b := make([]byte, c.kfLen)
	if _, err := idx.ReadAt(b, c.kfOff); err != nil {
		return Keyframe{}, fmt.Errorf("read keyframe: %w", err)
	}
	var k keyframeJSON
	if err := json.Unmarshal(b, &k); err != nil {
		return Keyframe{}, fmt.Errorf("read keyframe: %w", err)
	}
	return Keyframe{At: k.At, Cols: k.Cols, Rows: k.Rows, Paint: k.Paint}, nil
}
