package recorder

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const testID = "20261124T093012.345678Z-3f9a1c2b"

// openTestDir opens the recordings folder at base until the test ends.
func openTestDir(t testing.TB, base string) *Dir {
	t.Helper()
	d, err := OpenDir(base)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d
}

func TestDirCreateOpenRemove(t *testing.T) {
	base := filepath.Join(t.TempDir(), "recordings")
	d := openTestDir(t, base)
	f, rel, err := d.Create(testID)
	if err != nil {
		t.Fatal(err)
	}
	if rel != "2026/11/24/"+testID+".cast" {
		t.Errorf("rel = %q", rel)
	}
	if _, err := f.WriteString("content"); err != nil {
		t.Fatal(err)
	}
	_ = f.Close()
	if _, _, err := d.Create(testID); !errors.Is(err, os.ErrExist) {
		t.Errorf("second Create = %v, want exists", err)
	}
	for p, want := range map[string]os.FileMode{
		base: dirMode, filepath.Join(base, "2026"): dirMode, filepath.Join(base, "2026/11/24"): dirMode,
		filepath.Join(base, rel): fileMode,
	} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s mode %v, want %v", p, fi.Mode().Perm(), want)
		}
	}
	r, err := d.Open(rel)
	if err != nil {
		t.Fatal(err)
	}
	sha, size, err := HashFile(r)
	_ = r.Close()
	// sha256("content")
	if err != nil || size != 7 || sha != "ed7002b439e9ac845f22357d822bac1444730fbdb6016d3ec9432297b9ec9f73" {
		t.Errorf("HashFile = %s %d %v", sha, size, err)
	}
	free, err := d.FreeSpace()
	if err != nil || free == 0 {
		t.Errorf("FreeSpace = %d, %v", free, err)
	}
	if err := d.Remove(rel); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Open(rel); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Open after Remove = %v", err)
	}
}

// TestDirRejectsTraversal: like sshpiper's recorddir_test.go, every name
// that is not a server-made path, or that would leave the folder, fails.
func TestDirRejectsTraversal(t *testing.T) {
	tmp := t.TempDir()
	base := filepath.Join(tmp, "recordings")
	outside := filepath.Join(tmp, "outside")
	if err := os.MkdirAll(filepath.Join(outside, "11/24"), 0o700); err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(outside, "11/24", testID+".cast")
	if err := os.WriteFile(secret, []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	d := openTestDir(t, base)
	otherID := "20261124T093012.345678Z-00000000"
	// Symlinks inside the folder: one whose name is a valid path but
	// points outside (absolute and relative), one pointing to another
	// recording inside, and a year folder that is a link out.
	mustMkdir(t, filepath.Join(base, "2026/11/24"))
	mustSymlink(t, secret, filepath.Join(base, "2026/11/24", testID+".cast"))
	mustSymlink(t, "../../../../outside/11/24/"+testID+".cast", filepath.Join(base, "2026/11/24", otherID+".cast"))
	inID := "20261124T093012.345678Z-11111111"
	f, _, err := d.Create(inID)
	if err != nil {
		t.Fatal(err)
	}
	_ = f.Close()
	linkID := "20261124T093012.345678Z-22222222"
	mustSymlink(t, inID+".cast", filepath.Join(base, "2026/11/24", linkID+".cast"))
	mustSymlink(t, outside, filepath.Join(base, "2027"))
	yearOut := "20271124T093012.345678Z-3f9a1c2b"
	if err := os.MkdirAll(filepath.Join(outside, "11/24"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(outside, "11/24", yearOut+".cast"), []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}

	for _, c := range []struct{ name, rel string }{
		{"empty", ""},
		{"dot dot", "../outside/11/24/" + testID + ".cast"},
		{"dot dot inside", "2026/11/24/../../../../outside/11/24/" + testID + ".cast"},
		{"absolute", secret},
		{"absolute etc", "/etc/passwd"},
		{"leading dot", "./2026/11/24/" + testID + ".cast"},
		{"double slash", "2026//11/24/" + testID + ".cast"},
		{"trailing slash", "2026/11/24/" + testID + ".cast/"},
		{"backslashes", `2026\11\24\` + testID + ".cast"},
		{"wrong day", "2026/11/25/" + testID + ".cast"},
		{"not an id", "2026/11/24/passwd.cast"},
		{"upper hex", "2026/11/24/20261124T093012.345678Z-3F9A1C2B.cast"},
		{"no extension", "2026/11/24/" + testID},
		{"other extension", "2026/11/24/" + testID + ".json"},
		{"nul byte", "2026/11/24/" + testID + ".cast\x00"},
		{"symlink out, absolute", "2026/11/24/" + testID + ".cast"},
		{"symlink out, relative", "2026/11/24/" + otherID + ".cast"},
		{"symlink to a sibling", "2026/11/24/" + linkID + ".cast"},
		{"year folder links out", "2027/11/24/" + yearOut + ".cast"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if f, err := d.Open(c.rel); err == nil {
				b, _ := io.ReadAll(f)
				_ = f.Close()
				t.Fatalf("Open(%q) succeeded, read %q", c.rel, b)
			}
			if c.name != "symlink to a sibling" && c.name != "symlink out, absolute" && c.name != "symlink out, relative" {
				if err := d.Remove(c.rel); err == nil {
					t.Errorf("Remove(%q) succeeded", c.rel)
				}
			}
		})
	}
	for _, bad := range []string{"", "../x", "20261124T093012.345678Z-3f9a1c2b/../../x", "20261124T093012Z-3f9a1c2b"} {
		if _, _, err := d.Create(bad); err == nil {
			t.Errorf("Create(%q) succeeded", bad)
		}
	}
	if b, _ := os.ReadFile(secret); !bytes.Equal(b, []byte("secret")) {
		t.Error("the file outside was changed")
	}
	if _, err := os.Stat(filepath.Join(outside, "11/24", yearOut+".cast")); err != nil {
		t.Errorf("the file outside was removed: %v", err)
	}
}

func mustMkdir(t *testing.T, p string) {
	t.Helper()
	if err := os.MkdirAll(p, 0o700); err != nil {
		t.Fatal(err)
	}
}

func mustSymlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

// TestDirCheck: verifying a file against its index hash names what is
// wrong, and only an unchanged, closed, hashed file is OK.
func TestDirCheck(t *testing.T) {
	d := openTestDir(t, filepath.Join(t.TempDir(), "recordings"))
	f, rel, err := d.Create(testID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("content"); err != nil {
		t.Fatal(err)
	}
	_ = f.Close()
	const sha = "ed7002b439e9ac845f22357d822bac1444730fbdb6016d3ec9432297b9ec9f73" // sha256("content")
	for _, c := range []struct {
		name     string
		rel      string
		expected string
		active   bool
		ok       bool
		problem  string
	}{
		{"unchanged", rel, sha, false, true, ""},
		{"changed", rel, strings.Repeat("0", 64), false, false, "file changed since it was closed"},
		{"active", rel, "", true, false, "still being recorded"},
		{"no hash", rel, "", false, false, "no hash in the index"},
		{"missing", "2026/11/25/20261125T093012.345678Z-3f9a1c2b.cast", sha, false, false, "file missing: "},
		{"not a recording path", "../x.cast", sha, false, false, "file missing: "},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := d.Check(c.rel, c.expected, c.active)
			if got.OK != c.ok || !strings.HasPrefix(got.Problem, c.problem) || c.problem == "" && got.Problem != "" {
				t.Errorf("Check = %+v, want OK %v, problem %q", got, c.ok, c.problem)
			}
			if c.ok && (got.Actual != sha || got.Size != 7) {
				t.Errorf("Check = %+v, want sha %s, size 7", got, sha)
			}
		})
	}
}
