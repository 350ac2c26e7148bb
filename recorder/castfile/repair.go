package castfile

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/klauspost/compress/gzip"
)

// Repair makes a compressed recording that a crash left open whole again:
// the member the crash cut is rewritten, complete, with the whole lines
// it holds (so that zcat and gzip -t read the file without complaint),
// bytes after it are cut off, and the index is rewritten from the data,
// closed and without keyframes (no emulation: a long recording is
// repaired in the time it takes to decompress it; its keyframes are made
// on demand, or by WriteIndex later). data must be open for reading and
// writing; index is truncated and written. A recording that needs nothing
// still gets its index rewritten.
func Repair(data, index *os.File) error {
	st, err := data.Stat()
	if err != nil {
		return fmt.Errorf("repair recording: %w", err)
	}
	size := st.Size()
	r := &Reader{f: data, gz: true, zst: isZstd(data)}
	off, err := r.members(0, size, func(int64, io.Reader) error { return nil })
	if errors.Is(err, errCut) {
		var lines bytes.Buffer
		_, _ = r.members(off, size, func(_ int64, z io.Reader) error {
			_, err := copyLines(&lines, z)
			return errors.Join(err, io.EOF)
		})
		var member bytes.Buffer
		switch {
		case lines.Len() == 0:
		case r.zst: // a frame is never cut by its writer (Archive's file is renamed whole): only a damaged copy
			member.Write(zenc().EncodeAll(lines.Bytes(), nil))
		default:
			z, _ := gzip.NewWriterLevel(&member, Level)
			_, _ = z.Write(lines.Bytes())
			_ = z.Close()
		}
		if err := data.Truncate(off); err != nil {
			return fmt.Errorf("repair recording: %w", err)
		}
		if _, err := data.WriteAt(member.Bytes(), off); err != nil {
			return fmt.Errorf("repair recording: %w", err)
		}
	} else if err != nil {
		return fmt.Errorf("repair recording: %w", err)
	}
	var idx bytes.Buffer
	if err := writeIndex(&idx, data, false); err != nil {
		return fmt.Errorf("repair recording: %w", err)
	}
	if err := index.Truncate(0); err != nil {
		return fmt.Errorf("repair recording index: %w", err)
	}
	if _, err := index.WriteAt(idx.Bytes(), 0); err != nil {
		return fmt.Errorf("repair recording index: %w", err)
	}
	return nil
}

// WriteIndex writes to w the whole index of the closed compressed
// recording data, keyframes included, computed from the data alone (one
// pass, one emulator without scrollback). It is what the background
// indexer runs once a recording is closed; the session's writer makes an
// index without keyframes.
func WriteIndex(w io.Writer, data *os.File) error { return writeIndex(w, data, true) }

// writeIndex writes the index of the closed recording data, from the data
// alone: with every keyframe, or none.
func writeIndex(w io.Writer, data *os.File, keyframes bool) error {
	r := &Reader{f: data, gz: true}
	if err := r.openCompressed(nil, ""); err != nil {
		return err
	}
	size, err := r.size()
	if err != nil {
		return err
	}
	if err := r.complete(size, !keyframes); err != nil {
		return err
	}
	return r.writeIndexTo(w, size)
}

// writeIndexTo writes r's index, for a closed data file of size bytes.
func (r *Reader) writeIndexTo(w io.Writer, size int64) error {
	bw := bufio.NewWriter(w)
	_, _ = bw.WriteString(indexMagic + "\n")
	for i := range r.chunks {
		c := r.chunks[i]
		if c.stored {
			kf, err := loadKeyframe(r.idx, &c)
			if err != nil {
				return err
			}
			c.kf, c.stored = kf, false
		}
		_, _ = bw.Write(c.line())
	}
	_, _ = bw.Write(trailer(size, r.chunks))
	return bw.Flush()
}
