package castfile

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"

	uv "github.com/charmbracelet/ultraviolet"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/vt"
)

// paintModes are the DEC private modes a keyframe restores, in the order
// it sets them. The alternate screen modes are not here: Paint switches
// screens itself.
var paintModes = []ansi.DECMode{
	ansi.ModeCursorKeys,       // ?1: what arrow keys send
	ansi.ModeOrigin,           // ?6: cursor addressing relative to the scroll region
	ansi.ModeAutoWrap,         // ?7
	ansi.ModeNumericKeypad,    // ?66
	ansi.ModeBracketedPaste,   // ?2004
	ansi.ModeMouseNormal,      // ?1000
	ansi.ModeMouseButtonEvent, // ?1002
	ansi.ModeMouseAnyEvent,    // ?1003
	ansi.ModeMouseExtSgr,      // ?1006
}

// Screen is a terminal emulator (charmbracelet/x/vt) fed a recording's
// output and resizes, that can describe its screen as a keyframe paint.
// It is not safe for concurrent use; Close ends its drain goroutine.
type Screen struct {
	em    *vt.Emulator
	modes map[ansi.DECMode]bool // the paintModes set now (from vt's mode callbacks)
	top   int                   // scroll region (DECSTBM), 0-based top row
	bot   int                   // scroll region bottom row, exclusive; 0 = the whole screen
	done  chan struct{}         // closed when the drain goroutine ends
	// tail is the unfinished escape sequence the last Write ended in (a
	// sequence split across two events), which Paint ends with.
	tail []byte
}

// maxTail bounds Screen.tail: a longer unfinished sequence (a huge OSC)
// is not carried into keyframes.
const maxTail = 64 << 10

// NewScreen returns a freshly reset cols×rows screen.
//
// The emulator answers queries (DA, DSR, mode reports) by writing to an
// unbuffered pipe that only its Read drains: a goroutine owned by the
// Screen reads and discards the answers until Close, so Write never blocks.
func NewScreen(cols, rows int) *Screen {
	if cols <= 0 || rows <= 0 {
		cols, rows = 80, 24
	}
	s := &Screen{em: vt.NewEmulator(cols, rows), modes: map[ansi.DECMode]bool{ansi.ModeAutoWrap: true},
		done: make(chan struct{})}
	s.em.SetScrollbackSize(1) // a keyframe is the screen; scrollback would cost memory per session
	s.em.SetCallbacks(vt.Callbacks{
		EnableMode:  func(m ansi.Mode) { s.setMode(m, true) },
		DisableMode: func(m ansi.Mode) { s.setMode(m, false) },
	})
	// Registered after vt's own DECSTBM handler, so called first; it
	// returns false so that vt's handler still applies the margins.
	s.em.RegisterCsiHandler('r', func(p ansi.Params) bool {
		top, _, _ := p.Param(0, 1)
		bot, _, _ := p.Param(1, s.em.Height())
		if top < 1 {
			top = 1
		}
		if bot > s.em.Height() {
			// vt would take a bottom past the screen and later index
			// out of it: the sequence is ignored instead.
			return true
		}
		if bot < 1 {
			bot = s.em.Height()
		}
		if top < bot {
			s.top, s.bot = top-1, bot
		}
		return false
	})
	go func() { // owner: the Screen, until Close
		defer close(s.done)
		_, _ = io.Copy(io.Discard, s.em)
	}()
	return s
}

func (s *Screen) setMode(m ansi.Mode, on bool) {
	if d, ok := m.(ansi.DECMode); ok {
		s.modes[d] = on
	}
}

// Write feeds output to the terminal. A sequence the emulator trips on
// (a panic inside it: what a session sends must not stop the recorder) is
// an error, and the rest of p is dropped.
func (s *Screen) Write(p []byte) (n int, err error) {
	defer func() {
		if v := recover(); v != nil {
			n, err = len(p), fmt.Errorf("terminal emulator: %v", v)
		}
	}()
	n, err = s.em.Write(p)
	s.keepTail(p)
	return n, err
}

// keepTail notes the unfinished sequence p leaves the parser in.
func (s *Screen) keepTail(p []byte) {
	if peek(s.em).ground {
		s.tail = s.tail[:0]
		return
	}
	if i := bytes.LastIndexByte(p, 0x1b); i >= 0 {
		s.tail = append(s.tail[:0], p[i:]...)
	} else {
		s.tail = append(s.tail, p...)
	}
	if len(s.tail) > maxTail {
		s.tail = s.tail[:0]
	}
}

// WriteString is Write of a string.
func (s *Screen) WriteString(p string) (int, error) { return s.Write([]byte(p)) }

// Resize changes the terminal's size (a scroll region is reset, as a real
// terminal does).
func (s *Screen) Resize(cols, rows int) {
	if cols <= 0 || rows <= 0 || cols == s.em.Width() && rows == s.em.Height() {
		return
	}
	s.em.Resize(cols, rows)
	s.top, s.bot = 0, 0
}

// Size returns the terminal's columns and rows.
func (s *Screen) Size() (cols, rows int) { return s.em.Width(), s.em.Height() }

// Close stops the Screen's drain goroutine and waits for it.
//
// It closes the emulator's answer pipe rather than calling its Close: vt
// v0.1.0's Emulator.Close sets a flag that Emulator.Read (running on the
// drain goroutine) reads without synchronization, a data race. Closing
// the pipe's writing end ends that Read with io.EOF all the same, and the
// flag is never written.
func (s *Screen) Close() error {
	var err error
	if pw, ok := s.em.InputPipe().(*io.PipeWriter); ok {
		err = pw.CloseWithError(io.EOF)
	} else { // a vt whose input is not the pipe: its own Close
		err = s.em.Close()
	}
	<-s.done
	return err
}

// Cell returns the cell at column x, row y of the screen shown (nil
// outside it).
func (s *Screen) Cell(x, y int) *uv.Cell { return s.em.CellAt(x, y) }

// Cursor returns the cursor's column and row and whether it is shown.
func (s *Screen) Cursor() (x, y int, visible bool) {
	p := s.em.CursorPosition()
	return p.X, p.Y, !s.em.CursorHidden()
}

// AltScreen reports whether the alternate screen is shown.
func (s *Screen) AltScreen() bool { return s.em.IsAltScreen() }

// Mode reports whether one of the modes a keyframe restores is set.
func (s *Screen) Mode(m ansi.DECMode) bool { return s.modes[m] }

// grid is a copy of one screen's cells.
type grid struct {
	cols, rows int
	cells      []uv.Cell
}

// cellScreen is what grab reads: a vt.Emulator or vt.Screen.
type cellScreen interface {
	Width() int
	Height() int
	CellAt(x, y int) *uv.Cell
}

func grab(s cellScreen) grid {
	g := grid{cols: s.Width(), rows: s.Height()}
	g.cells = make([]uv.Cell, g.cols*g.rows)
	for y := 0; y < g.rows; y++ {
		for x := 0; x < g.cols; x++ {
			if c := s.CellAt(x, y); c != nil {
				g.cells[y*g.cols+x] = *c
			}
		}
	}
	return g
}

// Paint returns VT bytes that, written to a freshly reset terminal of the
// same size, reproduce this screen: the main screen's cells (and, when the
// alternate screen is shown, the alternate screen's over it), colours and
// attributes, wide characters, the scroll region, the modes in paintModes,
// and the cursor's position and visibility. Not reproduced: scrollback,
// the saved cursor (DECSC), the pen for the next character, character
// sets, and a wrap pending at the last column.
func (s *Screen) Paint() string {
	st := peek(s.em)
	alternate := s.em.IsAltScreen()
	main := grab(st.main)
	var alt grid
	if alternate {
		alt = grab(s.em)
	}
	var b strings.Builder
	b.WriteString("\x1b[?7l") // no wrap while painting the last column
	paintGrid(&b, main)
	mc := st.main.Cursor()
	b.WriteString(cup(mc.X, mc.Y))
	if alternate {
		if st.main.Cursor().Hidden {
			b.WriteString("\x1b[?25l")
		}
		b.WriteString("\x1b[?1049h")
		paintGrid(&b, alt)
	}
	// The saved cursor (DECSC), before origin mode makes CUP relative.
	b.WriteString(cup(st.saved.X, st.saved.Y))
	b.WriteString(sgr(&st.saved.Pen))
	b.WriteString("\x1b7")
	if s.bot > 0 && (s.top > 0 || s.bot < s.em.Height()) {
		b.WriteString("\x1b[" + strconv.Itoa(s.top+1) + ";" + strconv.Itoa(s.bot) + "r")
	}
	for _, m := range paintModes {
		if s.modes[m] {
			b.WriteString(ansi.SetMode(m))
		} else if m != ansi.ModeOrigin { // off already, and resetting it homes the cursor
			b.WriteString(ansi.ResetMode(m))
		}
	}
	x, y, visible := s.Cursor()
	if st.phantom && s.modes[ansi.ModeAutoWrap] {
		// A wrap is pending: the next character goes to the next line.
		// Writing the last cell again leaves the cursor in that state.
		cx := x
		if c := s.em.CellAt(cx, y); c != nil && c.Width == 0 && cx > 0 {
			cx--
		}
		b.WriteString(s.cupIn(cx, y))
		if c := s.em.CellAt(cx, y); c != nil {
			b.WriteString(sgr(&c.Style))
			b.WriteString(content(c))
		}
	} else {
		b.WriteString(s.cupIn(x, y))
	}
	b.WriteString(sgr(&st.cur.Pen))
	if visible {
		b.WriteString("\x1b[?25h")
	} else {
		b.WriteString("\x1b[?25l")
	}
	b.Write(s.tail)
	return b.String()
}

// cupIn is CUP to x, y (screen coordinates) under the current origin mode.
func (s *Screen) cupIn(x, y int) string {
	if s.modes[ansi.ModeOrigin] {
		y -= s.top
	}
	return cup(x, y)
}

// sgr returns the SGR sequence that sets exactly st.
func sgr(st *uv.Style) string {
	if st.IsZero() {
		return ansi.ResetStyle
	}
	return ansi.ResetStyle + st.String()
}

func content(c *uv.Cell) string {
	if c.Content == "" {
		return " "
	}
	return c.Content
}

func cup(x, y int) string {
	return "\x1b[" + strconv.Itoa(y+1) + ";" + strconv.Itoa(x+1) + "H"
}

// paintGrid writes g's cells row by row, leaving out the trailing blank
// cells a reset terminal already shows.
func paintGrid(b *strings.Builder, g grid) {
	var pen uv.Style
	for y := 0; y < g.rows; y++ {
		row := g.cells[y*g.cols : (y+1)*g.cols]
		end := len(row)
		for end > 0 && blank(&row[end-1]) {
			end--
		}
		if end == 0 {
			continue
		}
		b.WriteString(cup(0, y))
		col := 0 // where the terminal's cursor is
		for x := 0; x < end; x++ {
			c := &row[x]
			if c.Width == 0 && c.Content == "" {
				continue // the second half of a wide character
			}
			if x != col {
				b.WriteString(cup(x, y))
			}
			col = x + max(c.Width, 1)
			if !c.Style.Equal(&pen) {
				b.WriteString(ansi.ResetStyle)
				if !c.Style.IsZero() {
					b.WriteString(c.Style.String())
				}
				pen = c.Style
			}
			if c.Content == "" {
				b.WriteByte(' ')
			} else {
				b.WriteString(c.Content)
			}
		}
	}
	if !pen.IsZero() {
		b.WriteString(ansi.ResetStyle)
	}
}

// blank reports whether c looks like a cell of a reset terminal.
func blank(c *uv.Cell) bool {
	return (c.Content == " " || c.Content == "") && c.Width <= 1 && c.Style.IsZero() && c.Link.IsZero()
}
