package castfile

import (
	"reflect"
	"unsafe"

	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/ansi/parser"
	"github.com/charmbracelet/x/vt"
)

// vtState is what vt's Emulator keeps but does not export and a keyframe
// needs: the pending wrap, the cursor (with its pen) and the saved cursor
// (DECSC) of the screen shown, and the main screen.
type vtState struct {
	phantom    bool
	cur, saved vt.Cursor
	main       *vt.Screen // the main screen (also when the alternate one is shown)
	ground     bool       // the parser is between sequences
}

// peek reads vtState out of em's unexported fields (vt v0.1.0, pinned in
// go.mod: TestPaintReproducesScreen fails if they move). It only reads.
func peek(em *vt.Emulator) vtState {
	v := reflect.ValueOf(em).Elem()
	st := vtState{phantom: v.FieldByName("atPhantom").Bool()}
	scr := reflect.NewAt(reflect.TypeFor[vt.Screen](), v.FieldByName("scr").UnsafePointer()).Elem()
	st.cur = *(*vt.Cursor)(unsafe.Pointer(scr.FieldByName("cur").UnsafeAddr()))
	st.saved = *(*vt.Cursor)(unsafe.Pointer(scr.FieldByName("saved").UnsafeAddr()))
	st.ground = (*ansi.Parser)(v.FieldByName("parser").UnsafePointer()).State() == parser.GroundState
	st.main = (*vt.Screen)(unsafe.Pointer(v.FieldByName("scrs").Index(0).UnsafeAddr()))
	return st
}
