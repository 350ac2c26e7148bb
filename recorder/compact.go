package recorder

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"

	"github.com/jumpcast/jumpcast/recorder/castfile"
)

// Compacted is a raw recording converted to the compressed format.
type Compacted struct {
	Path   string // the compressed recording, "YYYY/MM/DD/<id>.cast.gz"
	SHA256 string // of the stored file at Path, for the index
	Size   int64  // of the stored file at Path
	Plain  string // SHA-256 of the plain asciicast: the raw file's and the decoded stream's
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
	plain, err := castfile.OpenPlain(d.Files(), gz)
	if err != nil {
		return c, err
	}
	decoded, _, err := HashFile(plain)
	_ = plain.Close()
	if err != nil {
		return c, err
	}
	if decoded != c.Plain {
		return c, fmt.Errorf("the compressed recording decodes to SHA-256 %s, the raw file is %s", decoded, c.Plain)
	}
	f, err := d.Open(gz)
	if err != nil {
		return c, err
	}
	defer func() { _ = f.Close() }()
	c.SHA256, c.Size, err = HashFile(f)
	return c, err
}
