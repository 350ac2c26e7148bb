package recorder

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"runtime"
	"strings"

	"github.com/jumpcast/jumpcast/recorder/castfile"
)

// Compacted is a recording converted to the compressed or the archived
// format.
type Compacted struct {
	Path   string // the new recording, "YYYY/MM/DD/<id>.cast.gz" or ".cast.zst"
	SHA256 string // of the stored file at Path, for the index
	Size   int64  // of the stored file at Path
	Plain  string // SHA-256 of the plain asciicast: the old file's and the new one's, decoded
}

// Compact converts the raw recording of id at rel into the compressed
// format beside it, and checks the result: the stream decoded from the
// new file must hash (SHA-256) to what the raw file hashes to, and the raw
// file to expected, the index's hash, when that is not "". The raw file is
// left in place: the caller points the index at Compacted.Path, then
// removes rel. Files left by an earlier Compact that did not finish are
// replaced; on error the new files are removed.
func (d *Dir) Compact(id, rel, expected string) (Compacted, error) {
	var c Compacted
	if want, err := relPath(id); err != nil || want != rel {
		return c, fmt.Errorf("compact %s: %q is not its raw recording: %w", id, rel, errBadPath)
	}
	raw, err := d.Open(rel)
	if err != nil {
		return c, fmt.Errorf("compact %s: %w", id, err)
	}
	defer func() { _ = raw.Close() }()
	gz := rel + ".gz"
	for _, stale := range []string{castfile.IndexPath(gz), gz} {
		if err := d.root.Remove(stale); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return c, fmt.Errorf("compact %s: %w", id, err)
		}
	}
	data, idx, gz, err := d.CreateCompressed(id)
	if err != nil {
		return c, fmt.Errorf("compact %s: %w", id, err)
	}
	c, err = d.convert(raw, data, idx, gz, expected)
	if err != nil {
		_ = d.Remove(gz)
		return Compacted{}, fmt.Errorf("compact %s: %w", id, err)
	}
	return c, nil
}

// convert writes raw into data and idx (and closes them), then checks
// the compressed recording at gz against raw.
func (d *Dir) convert(raw io.Reader, data, idx interface {
	io.Writer
	Sync() error
	Close() error
}, gz, expected string) (Compacted, error) {
	c := Compacted{Path: gz}
	h := sha256.New()
	err := castfile.Convert(data, idx, io.TeeReader(raw, h))
	for _, f := range []interface {
		Sync() error
		Close() error
	}{data, idx} {
		err = errors.Join(err, f.Sync(), f.Close())
	}
	if err != nil {
		return c, err
	}
	c.Plain = hex.EncodeToString(h.Sum(nil))
	if expected != "" && c.Plain != expected {
		return c, errors.New("the raw file does not match the index's SHA-256: left as it is")
	}
	return d.checkConverted(c, "the compressed recording", "the raw file is")
}

// checkConverted checks that the new recording c.Path decodes to c.Plain,
// and fills in its SHA-256 and size. what names the new file and old the
// old one in the error.
func (d *Dir) checkConverted(c Compacted, what, old string) (Compacted, error) {
	decoded, err := d.plainHash(c.Path)
	if err != nil {
		return c, err
	}
	if decoded != c.Plain {
		return c, fmt.Errorf("%s decodes to SHA-256 %s, %s %s", what, decoded, old, c.Plain)
	}
	f, err := d.Open(c.Path)
	if err != nil {
		return c, err
	}
	defer func() { _ = f.Close() }()
	c.SHA256, c.Size, err = HashFile(f)
	return c, err
}

// Archive converts the closed compressed recording of id at rel
// ("<id>.cast.gz") to the archived format beside it ("<id>.cast.zst" and
// its index: castfile.Archive), with the keyframes rel's index holds, and
// checks the result: the new file must decode to the plain stream rel
// decodes to (SHA-256). rel is left in place: the caller points the
// recordings index at Compacted.Path, then removes rel. Files left by an
// earlier Archive that did not finish are replaced; on error the new
// files are removed. The work (zstd at its best level, 20–30 MB of
// recording per CPU second) runs on a thread of its own at nice 19 and the
// lowest best-effort I/O level, so that it takes only CPU the sessions
// leave idle, even inside `serve`.
func (d *Dir) Archive(id, rel string) (Compacted, error) {
	var c Compacted
	if want, err := relPath(id); err != nil || want+".gz" != rel {
		return c, fmt.Errorf("archive %s: %q is not its compressed recording: %w", id, rel, errBadPath)
	}
	zst := strings.TrimSuffix(rel, ".gz") + ".zst"
	for _, stale := range []string{castfile.IndexPath(zst), zst} {
		if err := d.root.Remove(stale); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return c, fmt.Errorf("archive %s: %w", id, err)
		}
	}
	type result struct {
		c   Compacted
		err error
	}
	done := make(chan result, 1)
	go func() { // owner: this call, which waits for it
		runtime.LockOSThread() // never unlocked: the lowered thread ends with this goroutine
		lowerThreadPriority()
		c, err := d.archive(rel, zst)
		done <- result{c, err}
	}()
	res := <-done
	c, err := res.c, res.err
	if err != nil {
		_ = d.Remove(zst)
		return Compacted{}, fmt.Errorf("archive %s: %w", id, err)
	}
	return c, nil
}

func (d *Dir) archive(rel, zst string) (Compacted, error) {
	c := Compacted{Path: zst}
	r, err := castfile.Open(d.Files(), rel)
	if err != nil {
		return c, err
	}
	defer func() { _ = r.Close() }()
	var files [2]*os.File
	for i, name := range []string{zst, castfile.IndexPath(zst)} {
		if files[i], err = d.root.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, fileMode); err != nil {
			for _, f := range files[:i] {
				_ = f.Close()
			}
			return c, err
		}
	}
	data, idx := files[0], files[1]
	bw := bufio.NewWriterSize(data, 256<<10)
	_, err = castfile.Archive(bw, idx, r)
	err = errors.Join(err, bw.Flush())
	for _, f := range files {
		err = errors.Join(err, f.Sync(), f.Close())
	}
	if err != nil {
		return c, err
	}
	if c.Plain, err = d.plainHash(rel); err != nil {
		return c, err
	}
	return d.checkConverted(c, "the archived recording", "the compressed one to")
}

// plainHash is the SHA-256 of the plain asciicast the recording at rel
// decodes to.
func (d *Dir) plainHash(rel string) (string, error) {
	plain, err := castfile.OpenPlain(d.Files(), rel)
	if err != nil {
		return "", err
	}
	defer func() { _ = plain.Close() }()
	sum, _, err := HashFile(plain)
	return sum, err
}
