package asciicast

import (
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Line is one line of a recording's text as a terminal showed it (or, for
// input, as it was typed): escape sequences and control characters taken
// out, backspaces applied. Time is when its first character was recorded,
// End when the line was complete, both in seconds since the start, the
// player's timeline.
type Line struct {
	Time float64
	End  float64
	Text string
	// Cut is how many bytes of the data of the event at End it took to
	// complete the line (through its "\r" or "\n"): a player that writes
	// that much of that event shows the screen as it was when the line was
	// complete, even when the same event went on to scroll it away. 0 when
	// the end of the recording ended the line.
	Cut int
}

// SeekTo is where a player shows the whole line on screen: the tenth of a
// second after End (never 0, which players read as "from the start").
func (l Line) SeekTo() string {
	return strconv.FormatFloat(math.Floor(l.End*10)/10+0.1, 'f', 1, 64)
}

// Link is the query of a player link that opens the recording on the
// screen as it was when the line was complete: "t=END&cut=CUT" with End as
// the file writes times (so that a player reading the file finds that
// event), or "t=" SeekTo when there is nothing to cut or End is 0.
func (l Line) Link() string {
	if l.Cut <= 0 || l.End <= 0 {
		return "t=" + l.SeekTo()
	}
	return "t=" + strconv.FormatFloat(l.End, 'f', 6, 64) + "&cut=" + strconv.Itoa(l.Cut)
}

// maxLineRunes cuts a line that never ends (a progress bar redrawn with
// cursor moves, a binary dump) so that scanning stays bounded.
const maxLineRunes = 4096

// ScanLines reads r's events of code (CodeOutput or CodeInput) and calls
// fn for each non-empty line, in order, until fn returns false or the
// recording ends. "\r" and "\n" both end a line, so a prompt redrawn after
// a carriage return is a line of its own. A recording cut short (Truncated)
// is scanned as far as it goes.
func ScanLines(r *Reader, code string, fn func(Line) bool) error {
	var t termText
	t.emit = fn
	for {
		ev, err := r.Next()
		if errors.Is(err, io.EOF) {
			t.flush()
			return nil
		}
		if err != nil {
			return err
		}
		if ev.Code != code {
			continue
		}
		if !t.write(ev.Time, ev.Data) {
			return nil
		}
	}
}

// termText turns a stream of terminal bytes into lines.
type termText struct {
	emit  func(Line) bool
	line  []rune
	start float64 // time of line's first rune
	end   float64 // time of the event that added to or ended the line last
	cut   int     // bytes of that event's data through what ended the line
	state int
	stop  bool
}

// The escape-sequence states: ECMA-48 as xterm speaks it.
const (
	stText    = iota
	stEsc     // after ESC
	stCSI     // ESC [ … final byte 0x40–0x7E
	stString  // OSC, DCS, SOS, PM, APC: … BEL or ESC \
	stStrEsc  // ESC inside a string: "\" ends it
	stCharset // ESC ( ) * + - . /: one more byte names the set
)

// write adds data recorded at time at; false once emit asked to stop.
func (t *termText) write(at float64, data string) bool {
	for i, c := range data {
		if t.stop {
			return false
		}
		switch t.state {
		case stEsc:
			switch c {
			case '[':
				t.state = stCSI
			case ']', 'P', 'X', '^', '_':
				t.state = stString
			case '(', ')', '*', '+', '-', '.', '/':
				t.state = stCharset
			default:
				t.state = stText // a two-byte sequence: ESC 7, ESC M, ESC =…
			}
			continue
		case stCSI:
			if c >= 0x40 && c <= 0x7e {
				t.state = stText
			}
			continue
		case stString:
			switch c {
			case 0x07:
				t.state = stText
			case 0x1b:
				t.state = stStrEsc
			}
			continue
		case stStrEsc:
			t.state = stString
			if c == '\\' {
				t.state = stText
			}
			continue
		case stCharset:
			t.state = stText
			continue
		}
		switch {
		case c == 0x1b:
			t.state = stEsc
		case c == '\n' || c == '\r':
			t.end, t.cut = at, i+1
			t.flush()
		case c == '\b' || c == 0x7f: // backspace; DEL is what a terminal sends for it
			if n := len(t.line); n > 0 {
				t.line = t.line[:n-1]
			}
		case c == '\t':
			t.add(at, ' ')
		case c < 0x20 || c >= 0x80 && c < 0xa0 || c == utf8.RuneError:
			// other C0 and C1 controls, and bytes that were not UTF-8
		default:
			_, size := utf8.DecodeRuneInString(data[i:])
			t.cut = i + size
			t.add(at, c)
		}
	}
	t.cut = 0 // a line still open when the data ends is not cut in it
	return !t.stop
}

func (t *termText) add(at float64, c rune) {
	if len(t.line) == 0 {
		t.start = at
	}
	t.line = append(t.line, c)
	t.end = at
	if len(t.line) >= maxLineRunes {
		t.flush()
	}
}

// flush emits the current line unless it is blank.
func (t *termText) flush() {
	if t.stop {
		return
	}
	s := strings.TrimSpace(string(t.line))
	t.line = t.line[:0]
	if s != "" && !t.emit(Line{Time: t.start, End: t.end, Text: s, Cut: t.cut}) {
		t.stop = true
	}
}

// Offset prints a time into a recording (seconds) as M:SS.s, or H:MM:SS.s
// from an hour on: how grep and the web's screen search show a match.
func Offset(sec float64) string {
	tenths := int64(sec*10 + 0.5)
	h, m, s := tenths/36000, tenths/600%60, float64(tenths%600)/10
	if h > 0 {
		return fmt.Sprintf("%d:%02d:%04.1f", h, m, s)
	}
	return fmt.Sprintf("%d:%04.1f", m, s)
}
