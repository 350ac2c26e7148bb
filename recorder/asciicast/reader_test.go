package asciicast_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jumpcast/jumpcast/recorder/asciicast"
	"github.com/jumpcast/jumpcast/recorder/asciicast/asciicasttest"
)

func TestEventJSON(t *testing.T) {
	ev := asciicast.Event{Time: 1.2345678, Code: "o", Data: "a\x1b[0m\"<>é\xff"}
	b, err := ev.MarshalJSON() // json.Marshal would add HTML escapes: also valid
	if err != nil {
		t.Fatal(err)
	}
	if want := `[1.234568,"o","a\u001b[0m\"<>é\ufffd"]`; string(b) != want {
		t.Errorf("Marshal = %s, want %s", b, want)
	}
	var back asciicast.Event
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.Time != 1.234568 || back.Code != "o" || back.Data != "a\x1b[0m\"<>é\uFFFD" {
		t.Errorf("round trip = %+v", back)
	}
	for _, bad := range []string{`{}`, `[1,"o"]`, `["x","o","d"]`, `[1,2,"d"]`} {
		if err := json.Unmarshal([]byte(bad), &back); err == nil {
			t.Errorf("Unmarshal(%s): no error", bad)
		}
	}
	if err := json.Unmarshal([]byte(`[1e-06,"z",{"k":1}]`), &back); err != nil || back.Data != `{"k":1}` || back.Time != 1e-6 {
		t.Errorf("unknown code with object data: %+v, %v", back, err)
	}
	if w, h, err := asciicast.ParseResize(asciicast.ResizeData(132, 43)); err != nil || w != 132 || h != 43 {
		t.Errorf("resize round trip: %d %d %v", w, h, err)
	}
}

// TestReaderTruncatedEverywhere cuts a recording at every byte offset: a
// cut inside the header is an error; any later cut yields exactly the
// events whose lines are complete, then io.EOF — never another error.
func TestReaderTruncatedEverywhere(t *testing.T) {
	full, err := os.ReadFile(filepath.Join("testdata", "writer_shell.cast"))
	if err != nil {
		t.Fatal(err)
	}
	_, all := asciicasttest.ReadAll(t, bytes.NewReader(full))
	headerEnd := bytes.IndexByte(full, '\n')
	for cut := 0; cut <= len(full); cut++ {
		part := full[:cut]
		rd, err := asciicast.NewReader(bytes.NewReader(part))
		if cut < headerEnd {
			if err == nil {
				t.Fatalf("cut %d inside the header: no error", cut)
			}
			continue
		}
		if err != nil {
			t.Fatalf("cut %d: NewReader: %v", cut, err)
		}
		var got []asciicast.Event
		for {
			ev, err := rd.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("cut %d: Next: %v", cut, err)
			}
			got = append(got, ev)
		}
		complete := bytes.Count(part[headerEnd:], []byte("\n")) - 1
		if complete < 0 {
			complete = 0
		}
		endsClean := cut == headerEnd || part[cut-1] == '\n'
		want := all[:complete]
		if !endsClean && complete < len(all) && cut == headerEnd+1+lineEnd(full[headerEnd+1:], complete) {
			want = all[:complete+1] // the line is whole, only its newline is missing
		}
		if len(got) != len(want) {
			t.Fatalf("cut %d: %d events, want %d", cut, len(got), len(want))
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("cut %d: event %d = %+v, want %+v", cut, i, got[i], want[i])
			}
		}
		if rd.Truncated() != (!endsClean && len(got) == complete) {
			t.Errorf("cut %d: Truncated = %v", cut, rd.Truncated())
		}
	}
}

// lineEnd returns the offset, in events (the part after the header line),
// of the newline ending event line i.
func lineEnd(events []byte, i int) int {
	off := 0
	for range i {
		off += bytes.IndexByte(events[off:], '\n') + 1
	}
	return off + bytes.IndexByte(events[off:], '\n')
}

func TestReaderErrors(t *testing.T) {
	for _, c := range []struct{ name, in, want string }{
		{"empty", "", "no header"},
		{"v1", `{"version":1,"width":80,"height":24}` + "\n", "version 1"},
		{"v3", `{"version":3,"term":{"cols":80,"rows":24}}` + "\n", "version 3"},
		{"not json", "hello\n", "header"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := asciicast.NewReader(strings.NewReader(c.in))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("NewReader error = %v, want it to mention %q", err, c.want)
			}
		})
	}
	rd, err := asciicast.NewReader(strings.NewReader("{\"version\":2,\"width\":1,\"height\":1}\n[1,\"o\",\"a\"]\ngarbage\n[2,\"o\",\"b\"]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rd.Next(); err != nil {
		t.Fatal(err)
	}
	if _, err := rd.Next(); err == nil || !strings.Contains(err.Error(), "line 3") {
		t.Errorf("malformed middle line: %v, want an error naming line 3", err)
	}
}

func TestSummarize(t *testing.T) {
	full, err := os.ReadFile(filepath.Join("testdata", "writer_shell.cast"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := asciicast.Summarize(bytes.NewReader(full))
	if err != nil {
		t.Fatal(err)
	}
	if s.Events != 12 || s.LastEventTime != 5 || s.ExitStatus == nil || *s.ExitStatus != 0 || s.Truncated || !s.Closed {
		t.Errorf("summary %+v", s)
	}
	if s.Header.Jumpcast == nil || s.Header.Jumpcast.User != "alice" {
		t.Errorf("summary header %+v", s.Header)
	}
	// A crash: cut in the middle of the resize line.
	cut := bytes.Index(full, []byte(`"r","100`))
	s, err = asciicast.Summarize(bytes.NewReader(full[:cut]))
	if err != nil {
		t.Fatal(err)
	}
	if !s.Truncated || s.Closed || s.ExitStatus != nil || s.LastEventTime != 2.1 || s.Events != 7 {
		t.Errorf("truncated summary %+v", s)
	}
	sig, err := os.ReadFile(filepath.Join("testdata", "writer_cut-at-close.cast"))
	if err != nil {
		t.Fatal(err)
	}
	if s, err := asciicast.Summarize(bytes.NewReader(sig)); err != nil || s.ExitSignal != "KILL" || s.ExitStatus != nil {
		t.Errorf("signal summary %+v, %v", s, err)
	}
}
