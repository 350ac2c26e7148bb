package asciicast_test

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jumpcast/jumpcast/recorder/asciicast"
)

// castOf writes events (time, code, data) through the Writer and opens a
// Reader on the result.
func castOf(t *testing.T, events ...asciicast.Event) *asciicast.Reader {
	t.Helper()
	var buf bytes.Buffer
	var now float64
	w, err := asciicast.NewWriter(&buf, asciicast.Header{}, asciicast.WriterOptions{Clock: func() time.Duration { return time.Duration(now * float64(time.Second)) }})
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range events {
		now = ev.Time
		switch ev.Code {
		case asciicast.CodeOutput:
			must(t, w.Output([]byte(ev.Data)))
		case asciicast.CodeInput:
			must(t, w.Input([]byte(ev.Data)))
		}
	}
	must(t, w.Close(asciicast.Exit{}))
	r, err := asciicast.NewReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestScanLines(t *testing.T) {
	r := castOf(t,
		asciicast.Event{Time: 1, Code: asciicast.CodeOutput, Data: "\x1b]0;root@db1: ~\x07\x1b[01;32mroot@db1\x1b[00m:~# "},
		asciicast.Event{Time: 2, Code: asciicast.CodeInput, Data: "ls\r"},
		asciicast.Event{Time: 2.5, Code: asciicast.CodeOutput, Data: "rm -rf /tmp/x\r\n\x1b[?2004l"},
		asciicast.Event{Time: 3, Code: asciicast.CodeOutput, Data: "caf\xc3"}, // a character cut between events
		asciicast.Event{Time: 3.5, Code: asciicast.CodeOutput, Data: "\xa9 ok\ttab\r\nprogress 10%\rprogress 100%\r\n"},
		asciicast.Event{Time: 4, Code: asciicast.CodeOutput, Data: "typo\b\b\bxt \x1b(Bfin\x1bP+q\x1b\\al\x1b7\r\n"},
		asciicast.Event{Time: 5, Code: asciicast.CodeOutput, Data: "no newline at the end"},
	)
	var got []asciicast.Line
	if err := asciicast.ScanLines(r, asciicast.CodeOutput, func(l asciicast.Line) bool { got = append(got, l); return true }); err != nil {
		t.Fatal(err)
	}
	want := []asciicast.Line{
		{1, 2.5, "root@db1:~# rm -rf /tmp/x", 14},
		{3, 3.5, "café ok tab", 10}, // the writer carried "\xc3" into this event
		{3.5, 3.5, "progress 10%", 24},
		{3.5, 3.5, "progress 100%", 38},
		{4, 4, "txt final", 27},
		{5, 5, "no newline at the end", 0},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("lines:\n got %+v\nwant %+v", got, want)
	}

	r = castOf(t,
		asciicast.Event{Time: 1, Code: asciicast.CodeInput, Data: "sudo rm -rf /var/lib/x"},
		asciicast.Event{Time: 1.5, Code: asciicast.CodeInput, Data: "\x7fy\r"},
		asciicast.Event{Time: 2, Code: asciicast.CodeInput, Data: "exit\r"},
	)
	got = nil
	if err := asciicast.ScanLines(r, asciicast.CodeInput, func(l asciicast.Line) bool { got = append(got, l); return len(got) < 1 }); err != nil {
		t.Fatal(err)
	}
	if want := []asciicast.Line{{1, 1.5, "sudo rm -rf /var/lib/y", 3}}; !reflect.DeepEqual(got, want) {
		t.Errorf("input lines (stop after one):\n got %+v\nwant %+v", got, want)
	}
}

// TestScanLinesBounded: output that never ends a line is cut, not held.
func TestScanLinesBounded(t *testing.T) {
	r := castOf(t, asciicast.Event{Time: 1, Code: asciicast.CodeOutput, Data: strings.Repeat("x", 3*asciicast.MaxLineRunes+5)})
	var n []int
	if err := asciicast.ScanLines(r, asciicast.CodeOutput, func(l asciicast.Line) bool { n = append(n, len(l.Text)); return true }); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(n, []int{asciicast.MaxLineRunes, asciicast.MaxLineRunes, asciicast.MaxLineRunes, 5}) {
		t.Errorf("line lengths %v", n)
	}
}

func TestOffset(t *testing.T) {
	for sec, want := range map[float64]string{0: "0:00.0", 3.25: "0:03.3", 59.96: "1:00.0", 754.2: "12:34.2", 3725.04: "1:02:05.0"} {
		if got := asciicast.Offset(sec); got != want {
			t.Errorf("Offset(%v) = %q, want %q", sec, got, want)
		}
	}
}

// TestSeekTo: a link to a line lands after the line is complete, and never
// on 0 (the player's "from the start"), even for a line printed at once.
func TestSeekTo(t *testing.T) {
	for end, want := range map[float64]string{0: "0.1", 0.04: "0.1", 2.5: "2.6", 3.25: "3.3", 59.99: "60.0"} {
		if got := (asciicast.Line{End: end}).SeekTo(); got != want {
			t.Errorf("SeekTo(End %v) = %s, want %s", end, got, want)
		}
	}
}

// TestLink: a line that an event completed links to that event's time as
// the file writes it and to the bytes of it that completed the line; a line
// the recording's end completed links like SeekTo.
func TestLink(t *testing.T) {
	for _, c := range []struct {
		l    asciicast.Line
		want string
	}{
		{asciicast.Line{End: 2.5, Cut: 14}, "t=2.500000&cut=14"},
		{asciicast.Line{End: 1795.123456, Cut: 1}, "t=1795.123456&cut=1"},
		{asciicast.Line{End: 5}, "t=5.1"},
		{asciicast.Line{End: 0, Cut: 3}, "t=0.1"},
	} {
		if got := c.l.Link(); got != c.want {
			t.Errorf("%+v.Link() = %q, want %q", c.l, got, c.want)
		}
	}
}
