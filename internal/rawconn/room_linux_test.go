package rawconn

import (
	"net"
	"testing"
	"time"
)

// HasRoom says yes on an idle connection and no once the peer stops
// reading and the send buffer fills, which is when a Write would wait; it
// says no for a conn it cannot measure.
func TestHasRoom(t *testing.T) {
	c, s := pair(t)
	shrinkBuffers(t, c, s)
	w := wrapped(t, c)
	if !HasRoom(w, 1024) {
		t.Fatal("no room on an idle connection")
	}
	if HasRoom(w, 1<<30) {
		t.Error("room for 1 GiB in a 16 KiB send buffer")
	}
	// Fill the buffers without waiting: the peer does not read.
	if err := w.SetWriteDeadline(time.Now().Add(200 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if n, err := w.Write(make([]byte, 8<<20)); err == nil {
		t.Fatalf("wrote %d bytes to a peer that does not read", n)
	}
	if HasRoom(w, 1024) {
		t.Error("room reported with the send buffer full")
	}
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if HasRoom(a, 1) {
		t.Error("room reported for a conn that is not TCP")
	}
}
