package bastion

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestOpenDataDir(t *testing.T) {
	for _, tc := range []struct {
		name    string
		mode    os.FileMode // 0: missing
		wantErr string      // "" for accepted
	}{
		{"missing: created 0700", 0, ""},
		{"0700", 0o700, ""},
		{"0755, what mkdir makes", 0o755, "has mode 0755"},
		{"0750, group may read", 0o750, "has mode 0750"},
		{"0701, others may enter", 0o701, "has mode 0701"},
		{"0770, group may write", 0o770, "has mode 0770"},
		{"0777", 0o777, "has mode 0777"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			if tc.mode != 0 {
				if err := os.Mkdir(dir, 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(dir, tc.mode); err != nil {
					t.Fatal(err)
				}
			}
			err := openDataDir(dir)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
					t.Errorf("data folder: %v, %v; want 0700", fi.Mode(), err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), "chmod 700 "+dir) {
				t.Errorf("openDataDir = %v; want it refused with %q and the chmod", err, tc.wantErr)
			}
			if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != tc.mode {
				t.Errorf("a refused folder was changed: %v, %v", fi.Mode(), err)
			}
		})
	}
}

func TestOpenDataDirRefusesAFile(t *testing.T) {
	f := filepath.Join(t.TempDir(), "data")
	if err := os.WriteFile(f, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := openDataDir(f); err == nil {
		t.Error("a file is accepted as the data folder")
	}
}

func TestOpenDataDirRefusesAnotherUsersFolder(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give the folder away")
	}
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, 4242, 4242); err != nil {
		t.Fatal(err)
	}
	if err := openDataDir(dir); err == nil || !strings.Contains(err.Error(), "belongs to user 4242") {
		t.Errorf("openDataDir of user 4242's folder, running as root = %v; want it refused", err)
	}
}
