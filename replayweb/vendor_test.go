package replayweb

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
)

// TestVendoredPlayerChecksums: the xterm.js files served are the ones
// `make vendor-player` copied from the pinned npm package (SHA256SUMS,
// written by that target), with the licence beside them; a hand edit of
// the vendored code fails here.
func TestVendoredPlayerChecksums(t *testing.T) {
	const dir = "assets/vendor/xterm/"
	sums, err := embedded.ReadFile(dir + "SHA256SUMS")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(sums))
	for sc.Scan() {
		want, name, ok := strings.Cut(sc.Text(), "  ")
		if !ok {
			t.Fatalf("SHA256SUMS line %q", sc.Text())
		}
		data, err := embedded.ReadFile(dir + name)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if got := sha256.Sum256(data); hex.EncodeToString(got[:]) != want {
			t.Errorf("%s: SHA-256 %x, SHA256SUMS says %s (run make vendor-player)", name, got, want)
		}
		seen[name] = true
	}
	for _, name := range []string{"xterm.js", "xterm.css", "LICENSE", "VERSION"} {
		if !seen[name] {
			t.Errorf("SHA256SUMS does not cover %s", name)
		}
	}
	entries, err := embedded.ReadDir("assets/vendor/xterm")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() != "SHA256SUMS" && !seen[e.Name()] {
			t.Errorf("%s is vendored but not in SHA256SUMS", e.Name())
		}
	}
}
