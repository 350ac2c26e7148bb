package proxy

import "testing"

// A client may claim any terminal size; the recording states at most
// 1000×1000 so that a hostile claim cannot freeze an auditor's player.
func TestHugeTerminalSizeIsClampedInTheRecording(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	c := f.dial(t, "deploy+t1")
	s := openRaw(t, c)
	if !s.pty("xterm", 100000, 70000) {
		t.Fatal("pty-req refused")
	}
	if !s.request("shell", true, nil) {
		t.Fatal("shell refused")
	}
	s.request("window-change", false, windowChange{Columns: 4000000000, Rows: 50})
	if _, err := s.ch.Write([]byte("echo clamp-ok; exit 0\n")); err != nil {
		t.Fatal(err)
	}
	s.waitFor("clamp-ok")
	s.wait()
	rec := f.rec.last(t)
	if rec.info.Width != 1000 || rec.info.Height != 1000 {
		t.Errorf("recorded size %dx%d, want 1000x1000", rec.info.Width, rec.info.Height)
	}
	if len(rec.sizes) != 1 || rec.sizes[0] != [2]int{1000, 50} {
		t.Errorf("recorded resizes %v, want [[1000 50]]", rec.sizes)
	}
}
