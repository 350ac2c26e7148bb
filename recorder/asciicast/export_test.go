package asciicast

// Internals that the external tests (package asciicast_test) check.

// IncompleteTail is incompleteTail: FuzzBinarySummary accounts for the
// bytes a stream's carry still held at close.
var IncompleteTail = incompleteTail

// Limits the tests reach or cross on purpose.
const (
	FlushSize    = flushSize
	IdleBufMax   = idleBufMax
	MaxLineRunes = maxLineRunes
)

// Held reports the capacity of w's event buffer and carry scratch, and
// whether a timed flush is pending.
func (w *Writer) Held() (buf, scratch int, pending bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return cap(w.buf), cap(w.scratch), w.timer != nil
}

// The data of "r" and "x" events, as the Writer writes them.
var (
	ResizeData = resizeData
	ExitData   = exitData
)
