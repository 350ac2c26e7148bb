package castfile

import (
	"fmt"
	"strings"
	"testing"
)

// diffScreens describes how b's screen differs from a's ("" when they
// show the same thing: cells, attributes, cursor, screen and modes).
func diffScreens(a, b *Screen) string {
	ac, ar := a.Size()
	bc, br := b.Size()
	if ac != bc || ar != br {
		return fmt.Sprintf("size %dx%d, want %dx%d", bc, br, ac, ar)
	}
	if a.AltScreen() != b.AltScreen() {
		return fmt.Sprintf("alternate screen %v, want %v", b.AltScreen(), a.AltScreen())
	}
	var diffs []string
	for y := 0; y < ar; y++ {
		for x := 0; x < ac; x++ {
			ca, cb := a.Cell(x, y), b.Cell(x, y)
			if ca == nil || cb == nil || brokenWide(a, x, y) || x > 0 && brokenWide(a, x-1, y) {
				continue
			}
			same := ca.Width == cb.Width && ca.Style.Equal(&cb.Style) &&
				(ca.Content == cb.Content || blankContent(ca.Content) && blankContent(cb.Content))
			if !same && len(diffs) < 5 {
				diffs = append(diffs, fmt.Sprintf("cell %d,%d = %q w%d %v, want %q w%d %v", x, y,
					cb.Content, cb.Width, cb.Style, ca.Content, ca.Width, ca.Style))
			}
		}
	}
	ax, ay, av := a.Cursor()
	bx, by, bv := b.Cursor()
	if ax != bx || ay != by || av != bv {
		diffs = append(diffs, fmt.Sprintf("cursor %d,%d shown %v, want %d,%d shown %v", bx, by, bv, ax, ay, av))
	}
	for _, m := range paintModes {
		if a.Mode(m) != b.Mode(m) {
			diffs = append(diffs, fmt.Sprintf("mode %v %v, want %v", m, b.Mode(m), a.Mode(m)))
		}
	}
	return strings.Join(diffs, "; ")
}

// brokenWide reports a wide character at x, y whose second half vt let
// another character overwrite without erasing the first: a state no
// sequence can paint, which vt shows as the wide character alone.
func brokenWide(s *Screen, x, y int) bool {
	c, next := s.Cell(x, y), s.Cell(x+1, y)
	return c != nil && c.Width == 2 && next != nil && (next.Width != 0 || next.Content != "")
}

func blankContent(s string) bool { return s == "" || s == " " }

func TestPaintReproducesScreen(t *testing.T) {
	tests := []struct{ name, out string }{
		{"empty", ""},
		{"text and colours", "hello \x1b[1;31mred\x1b[0m \x1b[48;5;22mbg\x1b[0m\r\nnext line\x1b[38;2;1;2;3mrgb"},
		{"wide characters", "日本語のテキスト 🙂 ok\r\n\x1b[7mrév\x1b[0m"},
		{"alternate screen", "main text\r\n$ \x1b[?1049h\x1b[2J\x1b[Halt \x1b[4munder\x1b[0m\x1b[5;10H"},
		{"scroll region and origin", "\x1b[3;10r\x1b[?6h\x1b[2;4Hin region"},
		{"modes and hidden cursor", "\x1b[?1h\x1b=\x1b[?2004h\x1b[?25l\x1b[?1000h\x1b[?1006hx"},
		{"no autowrap", "\x1b[?7labc"},
		{"background erase", "\x1b[44m\x1b[2K\x1b[0mrow"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ref := NewScreen(40, 12)
			defer func() { _ = ref.Close() }()
			_, _ = ref.WriteString(tt.out)
			got := NewScreen(40, 12)
			defer func() { _ = got.Close() }()
			_, _ = got.WriteString(ref.Paint())
			if d := diffScreens(ref, got); d != "" {
				t.Errorf("painted screen differs: %s", d)
			}
			// Painting does not disturb the screen it describes.
			again := NewScreen(40, 12)
			defer func() { _ = again.Close() }()
			_, _ = again.WriteString(tt.out)
			if d := diffScreens(again, ref); d != "" {
				t.Errorf("Paint changed the screen: %s", d)
			}
		})
	}
}

func TestScreenQueriesDoNotBlock(t *testing.T) {
	s := NewScreen(80, 24)
	// DA1, DA2, DSR, cursor position report and a mode report: the
	// emulator answers each into its input pipe.
	for range 1000 {
		_, _ = s.WriteString("\x1b[c\x1b[>c\x1b[5n\x1b[6n\x1b[?2004$p")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}
