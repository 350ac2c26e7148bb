package recorder

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
	"time"
)

// castOf writes events (time, code, data) through the Writer and opens a
// Reader on the result.
func castOf(t *testing.T, events ...Event) *Reader {
	t.Helper()
	var buf bytes.Buffer
	var now float64
	w, err := NewWriter(&buf, Header{}, WriterOptions{Clock: func() time.Duration { return time.Duration(now * float64(time.Second)) }})
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range events {
		now = ev.Time
		switch ev.Code {
		case CodeOutput:
			must(t, w.Output([]byte(ev.Data)))
		case CodeInput:
			must(t, w.Input([]byte(ev.Data)))
		}
	}
	must(t, w.Close(Exit{}))
	r, err := NewReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestScanLines(t *testing.T) {
	r := castOf(t,
		Event{Time: 1, Code: CodeOutput, Data: "\x1b]0;root@db1: ~\x07\x1b[01;32mroot@db1\x1b[00m:~# "},
		Event{Time: 2, Code: CodeInput, Data: "ls\r"},
		Event{Time: 2.5, Code: CodeOutput, Data: "rm -rf /tmp/x\r\n\x1b[?2004l"},
		Event{Time: 3, Code: CodeOutput, Data: "caf\xc3"}, // a character cut between events
		Event{Time: 3.5, Code: CodeOutput, Data: "\xa9 ok\ttab\r\nprogress 10%\rprogress 100%\r\n"},
		Event{Time: 4, Code: CodeOutput, Data: "typo\b\b\bxt \x1b(Bfin\x1bP+q\x1b\\al\x1b7\r\n"},
		Event{Time: 5, Code: CodeOutput, Data: "no newline at the end"},
	)
	var got []Line
	if err := ScanLines(r, CodeOutput, func(l Line) bool { got = append(got, l); return true }); err != nil {
		t.Fatal(err)
	}
	want := []Line{
		{1, 2.5, "root@db1:~# rm -rf /tmp/x"},
		{3, 3.5, "café ok tab"},
		{3.5, 3.5, "progress 10%"},
		{3.5, 3.5, "progress 100%"},
		{4, 4, "txt final"},
		{5, 5, "no newline at the end"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("lines:\n got %+v\nwant %+v", got, want)
	}

	r = castOf(t,
		Event{Time: 1, Code: CodeInput, Data: "sudo rm -rf /var/lib/x"},
		Event{Time: 1.5, Code: CodeInput, Data: "\x7fy\r"},
		Event{Time: 2, Code: CodeInput, Data: "exit\r"},
	)
	got = nil
	if err := ScanLines(r, CodeInput, func(l Line) bool { got = append(got, l); return len(got) < 1 }); err != nil {
		t.Fatal(err)
	}
	if want := []Line{{1, 1.5, "sudo rm -rf /var/lib/y"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("input lines (stop after one):\n got %+v\nwant %+v", got, want)
	}
}

// TestScanLinesBounded: output that never ends a line is cut, not held.
func TestScanLinesBounded(t *testing.T) {
	r := castOf(t, Event{Time: 1, Code: CodeOutput, Data: strings.Repeat("x", 3*maxLineRunes+5)})
	var n []int
	if err := ScanLines(r, CodeOutput, func(l Line) bool { n = append(n, len(l.Text)); return true }); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(n, []int{maxLineRunes, maxLineRunes, maxLineRunes, 5}) {
		t.Errorf("line lengths %v", n)
	}
}

func TestOffset(t *testing.T) {
	for sec, want := range map[float64]string{0: "0:00.0", 3.25: "0:03.3", 59.96: "1:00.0", 754.2: "12:34.2", 3725.04: "1:02:05.0"} {
		if got := Offset(sec); got != want {
			t.Errorf("Offset(%v) = %q, want %q", sec, got, want)
		}
	}
}

// TestSeekTo: a link to a line lands after the line is complete, and never
// on 0 (the player's "from the start"), even for a line printed at once.
func TestSeekTo(t *testing.T) {
	for end, want := range map[float64]string{0: "0.1", 0.04: "0.1", 2.5: "2.6", 3.25: "3.3", 59.99: "60.0"} {
		if got := (Line{End: end}).SeekTo(); got != want {
			t.Errorf("SeekTo(End %v) = %s, want %s", end, got, want)
		}
	}
}
