package proxy

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// TestFastRelayRecordsKeystrokes types into a shell one keystroke at a
// time, waiting for each echo, as an admin does: the relay's fast path
// carries most of those keystrokes and echoes, and the recording still
// holds every byte the admin sent and received, in order.
func TestFastRelayRecordsKeystrokes(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	c := f.dial(t, "deploy+t1")
	s := openRaw(t, c)
	if !s.pty("xterm", 80, 24) {
		t.Fatal("pty-req refused")
	}
	if !s.request("shell", true, nil) {
		t.Fatal("shell refused")
	}
	var sent bytes.Buffer
	typed := "echo the-quick-brown-fox-jumps-over-the-lazy-dog-0123456789"
	s.waitFor("# ")
	for i := range len(typed) {
		k := string(typed[i])
		before := strings.Count(s.stdout(), k)
		if _, err := s.ch.Write([]byte(k)); err != nil {
			t.Fatal(err)
		}
		sent.WriteString(k)
		deadline := time.Now().Add(10 * time.Second)
		for strings.Count(s.stdout(), k) == before {
			if time.Now().After(deadline) {
				t.Fatalf("keystroke %d (%q) was not echoed; stdout %q", i, k, s.stdout())
			}
			time.Sleep(time.Millisecond)
		}
	}
	for _, line := range []string{"\n", "exit\n"} {
		if _, err := s.ch.Write([]byte(line)); err != nil {
			t.Fatal(err)
		}
		sent.WriteString(line)
	}
	r := s.wait()
	rec := f.rec.last(t)
	if !bytes.Equal(rec.output.Bytes(), r.stdout) {
		t.Errorf("recorded output differs from what the client received:\n rec %q\n got %q", rec.output.String(), r.stdout)
	}
	if rec.input.String() != sent.String() {
		t.Errorf("recorded input %q, want %q", rec.input.String(), sent.String())
	}
	t.Logf("fast path: %d of %d bytes in, %d of %d out", rec.fastIn, rec.input.Len(), rec.fastOut, rec.output.Len())
	if rec.fastIn < len(typed)/2 || rec.fastOut < len(typed)/2 {
		t.Errorf("the fast path carried %d bytes in and %d out of %d keystrokes", rec.fastIn, rec.fastOut, len(typed))
	}
}
