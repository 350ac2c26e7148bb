package castfile

import (
	"errors"
	"fmt"
	"io"
)

// Convert writes the plain asciicast v2 stream raw in the compressed
// format: the data file to data, its index (without keyframes, as a
// session's: nothing is emulated, so a long recording converts at the
// speed of compression) to index. Lines are handed to
// a Writer in blocks as a recording's flushes would (at most ChunkBytes/4,
// or a second of recording time). A raw stream whose last line is cut (a
// crash) is an error: converting it would not keep every byte.
func Convert(data, index io.Writer, raw io.Reader) error {
	lr := newLineReader(raw, 0)
	hdr, _, err := lr.next()
	if err != nil {
		return errors.New("asciicast: no header")
	}
	h, err := parseHeader(hdr)
	if err != nil {
		return err
	}
	w := NewWriter(data, index, h)
	if _, err := w.Write(hdr); err != nil {
		_ = w.Close()
		return err
	}
	var block []byte
	start := -1.0
	flush := func() error {
		if len(block) == 0 {
			return nil
		}
		_, err := w.Write(block)
		block, start = block[:0], -1
		return err
	}
	for err == nil {
		var line []byte
		line, _, err = lr.next()
		if err != nil {
			break
		}
		t := lineTime(line)
		if start >= 0 && (t-start >= 1 || len(block)+len(line) > ChunkBytes/4) {
			err = flush()
		}
		if start < 0 {
			start = t
		}
		block = append(block, line...)
	}
	if errors.Is(err, io.EOF) {
		err = flush()
	}
	if err == nil && lr.cut > 0 {
		err = fmt.Errorf("the last line of the recording is cut (%d bytes): not converted", lr.cut)
	}
	return errors.Join(err, w.Close())
}
