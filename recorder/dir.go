package recorder

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"strings"
	"sync"

	"github.com/jumpcast/jumpcast/internal/recording"
	"github.com/jumpcast/jumpcast/recorder/castfile"
)

// File and folder permissions of the recordings folder.
const (
	fileMode os.FileMode = 0o600
	dirMode  os.FileMode = 0o700
)

// errBadPath is returned for a recording path that is not one the server
// makes ("YYYY/MM/DD/<id>.cast" with a valid id of that day).
var errBadPath = errors.New("not a recording path")

// Dir is the recordings folder, opened as an os.Root: no name given to it
// can reach outside, and only server-made names are accepted. Safe for
// concurrent use.
type Dir struct {
	root *os.Root

	// Index writes in flight (WriteIndex, from the background keyframer):
	// Close closes their data files, so that they stop at their next read,
	// and waits for them before it releases the folder, which then holds
	// no open file (an unmount right after works).
	mu       sync.Mutex
	closing  bool
	indexing map[*os.File]struct{}
	children map[*exec.Cmd]struct{} // index writes in child processes (IndexInChild)
	wg       sync.WaitGroup

	indexCmd IndexCommand // nil: WriteIndex emulates in this process
}

// OpenDir opens the recordings folder at path, creating it (0700) if it is
// missing.
func OpenDir(path string) (*Dir, error) {
	if err := os.MkdirAll(path, dirMode); err != nil {
		return nil, fmt.Errorf("create recordings folder: %w", err)
	}
	root, err := os.OpenRoot(path)
	if err != nil {
		return nil, fmt.Errorf("open recordings folder: %w", err)
	}
	return &Dir{root: root}, nil
}

// Create makes the file of recording id (0600, exclusive: an existing file
// is an error) and its day folders (0700). It returns the open file (read
// and write) and its path relative to the folder.
func (d *Dir) Create(id string) (*os.File, string, error) {
	rel, err := relPath(id)
	if err != nil {
		return nil, "", fmt.Errorf("create recording: %w", err)
	}
	if err := d.root.MkdirAll(path.Dir(rel), dirMode); err != nil {
		return nil, "", fmt.Errorf("create recording folder %s: %w", path.Dir(rel), err)
	}
	f, err := d.root.OpenFile(rel, os.O_RDWR|os.O_CREATE|os.O_EXCL, fileMode)
	if err != nil {
		return nil, "", fmt.Errorf("create recording %s: %w", rel, err)
	}
	return f, rel, nil
}

// CreateCompressed makes the two files of recording id in the compressed
// format (recorder/castfile): the data file, whose path it returns
// ("YYYY/MM/DD/<id>.cast.gz"), and the index beside it; exclusive and
// 0600 as Create. On error neither file is left.
func (d *Dir) CreateCompressed(id string) (data, index *os.File, rel string, err error) {
	raw, err := relPath(id)
	if err != nil {
		return nil, nil, "", fmt.Errorf("create recording: %w", err)
	}
	if err := d.root.MkdirAll(path.Dir(raw), dirMode); err != nil {
		return nil, nil, "", fmt.Errorf("create recording folder %s: %w", path.Dir(raw), err)
	}
	rel = raw + ".gz"
	data, err = d.root.OpenFile(rel, os.O_RDWR|os.O_CREATE|os.O_EXCL, fileMode)
	if err != nil {
		return nil, nil, "", fmt.Errorf("create recording %s: %w", rel, err)
	}
	index, err = d.root.OpenFile(castfile.IndexPath(rel), os.O_RDWR|os.O_CREATE|os.O_EXCL, fileMode)
	if err != nil {
		_ = data.Close()
		_ = d.root.Remove(rel)
		return nil, nil, "", fmt.Errorf("create recording index %s: %w", castfile.IndexPath(rel), err)
	}
	return data, index, rel, nil
}

// Open opens a recording for reading. rel must be exactly what Create
// returned for a valid id; the file must be a regular file (a symlink is
// refused even when it stays inside the folder).
func (d *Dir) Open(rel string) (*os.File, error) {
	if err := checkRel(rel); err != nil {
		return nil, err
	}
	before, err := d.root.Lstat(rel)
	if err != nil {
		return nil, fmt.Errorf("open recording %s: %w", rel, err)
	}
	if !before.Mode().IsRegular() {
		return nil, fmt.Errorf("open recording %s: not a regular file: %w", rel, errBadPath)
	}
	f, err := d.root.Open(rel)
	if err != nil {
		return nil, fmt.Errorf("open recording %s: %w", rel, err)
	}
	after, err := f.Stat()
	if err != nil || !os.SameFile(before, after) {
		_ = f.Close()
		return nil, fmt.Errorf("open recording %s: file changed while opening: %w", rel, errBadPath)
	}
	return f, nil
}

// Files returns the folder as a castfile.Opener, and an IndexKeeper:
// readers keep the keyframes they make in a closed recording's index.
func (d *Dir) Files() castfile.Opener { return dirFiles{d} }

type dirFiles struct{ d *Dir }

func (f dirFiles) Open(rel string) (castfile.File, error) {
	file, err := f.d.Open(rel)
	if err != nil {
		return nil, err // not a nil *os.File in an interface
	}
	return file, nil
}

func (f dirFiles) PutIndex(rel string, write func(io.Writer) error) error {
	return f.d.PutIndex(rel, write)
}

// Repair makes a compressed recording that a crash left active whole
// again and rewrites its index from the data (castfile.Repair). A raw
// .cast needs nothing: its readers stop at the last whole line.
func (d *Dir) Repair(rel string) error {
	if err := checkRel(rel); err != nil || !castfile.Compressed(rel) {
		return err
	}
	if st, err := d.root.Lstat(rel); err != nil || !st.Mode().IsRegular() {
		return fmt.Errorf("repair recording %s: not a regular file: %w", rel, errors.Join(err, errBadPath))
	}
	data, err := d.root.OpenFile(rel, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("repair recording %s: %w", rel, err)
	}
	defer func() { _ = data.Close() }()
	idx, err := d.root.OpenFile(castfile.IndexPath(rel), os.O_RDWR|os.O_CREATE, fileMode)
	if err != nil {
		return fmt.Errorf("repair recording %s: %w", rel, err)
	}
	defer func() { _ = idx.Close() }()
	if err := castfile.Repair(data, idx); err != nil {
		return fmt.Errorf("%s: %w", rel, err)
	}
	if err := errors.Join(data.Sync(), idx.Sync()); err != nil {
		return fmt.Errorf("repair recording %s: %w", rel, err)
	}
	return nil
}

// WriteIndex computes the index of the closed compressed recording rel,
// keyframes included (castfile.WriteIndex), and puts it beside the data
// atomically: written to a new file of a random name, synced, renamed over
// the index. Two processes doing it at once both write the same index.
// An index that already holds every keyframe (castfile.Indexed) is left
// as it is. After Close it does nothing (the recording's readers make
// keyframes on demand).
func (d *Dir) WriteIndex(rel string) error {
	if err := checkRel(rel); err != nil || !castfile.Compressed(rel) {
		return err
	}
	if castfile.Indexed(d.Files(), rel) {
		return nil
	}
	d.mu.Lock()
	if d.closing {
		d.mu.Unlock()
		return nil
	}
	d.wg.Add(1)
	d.mu.Unlock()
	defer d.wg.Done()
	data, err := d.Open(rel)
	if err != nil {
		return err
	}
	if d.indexCmd != nil {
		if st, err := data.Stat(); err != nil || st.Size() > inProcessIndexMax {
			_ = data.Close()
			return d.writeIndexInChild(rel)
		}
	}
	if !d.track(data) {
		_ = data.Close()
		return nil
	}
	defer func() { d.untrack(data); _ = data.Close() }()
	err = d.PutIndex(rel, func(w io.Writer) error { return castfile.WriteIndex(w, data) })
	if err != nil {
		d.mu.Lock()
		stopped := d.closing
		d.mu.Unlock()
		if stopped { // Close interrupted it: not a failure
			return nil
		}
		return err
	}
	return nil
}

// inProcessIndexMax: a compressed recording this small (a short shell, a
// copy without a PTY whose output is only counted) holds too little output
// to be worth a child process — starting one costs more than emulating
// what it holds, and, counted with the bastion's, more memory — so
// WriteIndex makes its keyframes in this process even with IndexInChild.
const inProcessIndexMax = 16 << 10

// PutIndex replaces the index beside the compressed recording rel with
// what write writes (castfile.IndexKeeper): written to a new file of a
// random name, synced, renamed over the index. Two writers at once leave
// one of the two indexes whole.
func (d *Dir) PutIndex(rel string, write func(io.Writer) error) error {
	if err := checkRel(rel); err != nil {
		return err
	}
	if !castfile.Compressed(rel) {
		return fmt.Errorf("index recording %s: not the compressed format", rel)
	}
	var rnd [8]byte
	_, _ = rand.Read(rnd[:]) // never fails
	idx := castfile.IndexPath(rel)
	tmp := idx + ".tmp-" + hex.EncodeToString(rnd[:])
	f, err := d.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fileMode)
	if err != nil {
		return fmt.Errorf("index recording %s: %w", rel, err)
	}
	err = write(f)
	if err == nil {
		err = f.Sync()
	}
	err = errors.Join(err, f.Close())
	if err == nil {
		err = d.root.Rename(tmp, idx)
	}
	if err != nil {
		_ = d.root.Remove(tmp)
		return fmt.Errorf("index recording %s: %w", rel, err)
	}
	return nil
}

// Remove deletes a recording file, and the index beside a compressed one.
// Empty day folders are left in place (a concurrent Create may be about to
// use them).
func (d *Dir) Remove(rel string) error {
	if err := checkRel(rel); err != nil {
		return err
	}
	if castfile.Compressed(rel) {
		if err := d.root.Remove(castfile.IndexPath(rel)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove recording index %s: %w", rel, err)
		}
	}
	if err := d.root.Remove(rel); err != nil {
		return fmt.Errorf("remove recording %s: %w", rel, err)
	}
	return nil
}

// track registers an index write's data file for Close; false when Close
// has begun.
func (d *Dir) track(f *os.File) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closing {
		return false
	}
	if d.indexing == nil {
		d.indexing = map[*os.File]struct{}{}
	}
	d.indexing[f] = struct{}{}
	return true
}

func (d *Dir) untrack(f *os.File) {
	d.mu.Lock()
	delete(d.indexing, f)
	d.mu.Unlock()
}

// Close stops the index writes in flight (their data files are closed
// under them, their child processes killed; an interrupted one leaves no
// index, which readers complete from the data), waits for them, and
// releases the folder.
func (d *Dir) Close() error {
	d.mu.Lock()
	d.closing = true
	for f := range d.indexing {
		_ = f.Close()
	}
	for c := range d.children {
		_ = c.Process.Kill() // our own child, by PID; Wait reaps it
	}
	d.mu.Unlock()
	d.wg.Wait()
	return d.root.Close()
}

// checkRel accepts only "YYYY/MM/DD/<id>.cast" where the date is the id's,
// the compressed format's "<id>.cast.gz" and "<id>.cast.idx" beside it,
// and the archived format's "<id>.cast.zst" and "<id>.cast.zst.idx".
func checkRel(rel string) error {
	raw := rel
	if base, ok := strings.CutSuffix(rel, ".zst.idx"); ok {
		raw = base
	} else if base, ok := strings.CutSuffix(rel, ".gz"); ok {
		raw = base
	} else if base, ok := strings.CutSuffix(rel, ".zst"); ok {
		raw = base
	} else if base, ok := strings.CutSuffix(rel, ".idx"); ok {
		raw = base
	}
	id, ok := strings.CutSuffix(path.Base(raw), ".cast")
	want, err := relPath(id)
	if !ok || err != nil || want != raw {
		return fmt.Errorf("%q: %w", rel, errBadPath)
	}
	return nil
}

// relPath is recording.RelPath that also refuses a well-formed id whose
// date does not exist: the folder names only the files of ids NewID could
// have made.
func relPath(id string) (string, error) {
	if _, err := recording.IDTime(id); err != nil {
		return "", err
	}
	return recording.RelPath(id)
}

// HashFile returns the hex SHA-256 of everything r yields and its size.
func HashFile(r io.Reader) (sha string, size int64, err error) {
	h := sha256.New()
	size, err = io.Copy(h, r)
	if err != nil {
		return "", size, fmt.Errorf("hash recording: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil)), size, nil
}

// Check is the outcome of re-hashing one recording file against the
// SHA-256 its index row stored when the recording closed.
type Check struct {
	Actual  string // the file's SHA-256 now ("" when it could not be read)
	Size    int64
	OK      bool
	Problem string // why not OK: missing, changed, still recording, no hash
}

// Check re-hashes the recording at rel against expected, the SHA-256 its
// index row stored when the recording closed; active is true while the
// recording is still being written. A file that cannot be opened or read
// is a Check with its Problem, not an error: verifying is reporting.
func (d *Dir) Check(rel, expected string, active bool) Check {
	return CheckFile(d.Files(), rel, expected, active)
}

// CheckFile is Dir.Check for a recording opened through o (wherever its
// file is).
func CheckFile(o castfile.Opener, rel, expected string, active bool) Check {
	f, err := o.Open(rel)
	if err != nil {
		return Check{Problem: "file missing: " + err.Error()}
	}
	defer func() { _ = f.Close() }()
	var c Check
	c.Actual, c.Size, err = HashFile(f)
	switch {
	case err != nil:
		c.Problem = "read: " + err.Error()
	case active:
		c.Problem = "still being recorded"
	case expected == "":
		c.Problem = "no hash in the index"
	case c.Actual != expected:
		c.Problem = "file changed since it was closed"
	default:
		c.OK = true
	}
	return c
}
