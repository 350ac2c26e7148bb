package asciicast_test

import (
	"bytes"
	"fmt"
	"time"

	"github.com/jumpcast/jumpcast/recorder/asciicast"
)

// A character split across two reads is joined, and a window change is
// recorded; the clock is injected here to make the output stable.
func ExampleNewWriter() {
	var elapsed time.Duration
	var buf bytes.Buffer
	w, _ := asciicast.NewWriter(&buf, asciicast.Header{Width: 80, Height: 24, Title: "root@db1 — alice"},
		asciicast.WriterOptions{Clock: func() time.Duration { return elapsed }})
	_ = w.Output([]byte("caf\xc3"))
	elapsed = 250 * time.Millisecond
	_ = w.Output([]byte("\xa9\r\n"))
	_ = w.Resize(100, 30)
	_ = w.Close(asciicast.Exit{Status: 0, HasStatus: true})
	fmt.Print(buf.String())
	// Output:
	// {"version":2,"width":80,"height":24,"title":"root@db1 — alice"}
	// [0.000000,"o","caf"]
	// [0.250000,"o","é\r\n"]
	// [0.250000,"r","100x30"]
	// [0.250000,"x","0"]
}
