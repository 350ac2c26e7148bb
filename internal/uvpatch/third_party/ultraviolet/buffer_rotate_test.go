package uv

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// slowLines is the cell-by-cell insert or delete of lines, as the buffer
// did before it rotated whole lines: the reference for the fast path.
func slowLines(b *Buffer, insert bool, y, n int, c *Cell, area Rectangle) {
	if n <= 0 || y < area.Min.Y || y >= area.Max.Y || y >= b.Height() {
		return
	}
	if insert {
		if y+n > area.Max.Y {
			n = area.Max.Y - y
		}
		for i := area.Max.Y - 1; i >= y+n; i-- {
			for x := area.Min.X; x < area.Max.X; x++ {
				b.Lines[i][x] = b.Lines[i-n][x]
			}
		}
		for i := y; i < y+n; i++ {
			for x := area.Min.X; x < area.Max.X; x++ {
				b.SetCell(x, i, c)
			}
		}
		return
	}
	if n > area.Max.Y-y {
		n = area.Max.Y - y
	}
	for dst := y; dst < area.Max.Y-n; dst++ {
		for x := area.Min.X; x < area.Max.X; x++ {
			b.Lines[dst][x] = b.Lines[dst+n][x]
		}
	}
	for i := area.Max.Y - n; i < area.Max.Y; i++ {
		for x := area.Min.X; x < area.Max.X; x++ {
			b.SetCell(x, i, c)
		}
	}
}

// TestLinesRotateLikeCells checks InsertLineArea and DeleteLineArea
// against the cell-by-cell reference: whole-width areas (the rotation),
// partial widths, scroll regions, n past the region, a styled fill cell,
// and that no two rows share storage afterwards.
func TestLinesRotateLikeCells(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	fill := func(b *Buffer) {
		for y := range b.Height() {
			for x := range b.Width() {
				b.SetCell(x, y, &Cell{Content: string(rune('a' + rng.IntN(26))), Width: 1})
			}
		}
	}
	blank := &Cell{Content: " ", Width: 1, Style: Style{Attrs: 1}}
	for i := range 2000 {
		w, h := 1+rng.IntN(12), 1+rng.IntN(12)
		fast, slow := NewBuffer(w, h), NewBuffer(w, h)
		fill(fast)
		for y := range h {
			copy(slow.Lines[y], fast.Lines[y])
		}
		top := rng.IntN(h)
		bot := top + 1 + rng.IntN(h-top)
		left, right := 0, w
		if rng.IntN(3) == 0 { // a partial width: the cell-by-cell path
			left = rng.IntN(w)
			right = left + 1 + rng.IntN(w-left)
		}
		area := Rect(left, top, right-left, bot-top)
		y, n := top+rng.IntN(bot-top), 1+rng.IntN(h+2)
		var c *Cell
		if rng.IntN(2) == 0 {
			c = blank
		}
		insert := rng.IntN(2) == 0
		if insert {
			fast.InsertLineArea(y, n, c, area)
		} else {
			fast.DeleteLineArea(y, n, c, area)
		}
		slowLines(slow, insert, y, n, c, area)
		what := fmt.Sprintf("case %d: %dx%d, area %v, y %d, n %d, insert %v", i, w, h, area, y, n, insert)
		for row := range h {
			for x := range w {
				if !fast.Lines[row][x].Equal(&slow.Lines[row][x]) {
					t.Fatalf("%s: cell %d,%d is %+v, want %+v", what, x, row, fast.Lines[row][x], slow.Lines[row][x])
				}
			}
		}
		// Each row still owns its cells: writing one changes no other.
		for row := range h {
			fast.SetCell(0, row, &Cell{Content: "#", Width: 1})
			for other := range h {
				if other != row && fast.Lines[other][0].Content == "#" {
					t.Fatalf("%s: rows %d and %d share their cells", what, row, other)
				}
			}
			fast.SetCell(0, row, &Cell{Content: "a", Width: 1})
		}
	}
}
