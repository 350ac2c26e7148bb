package asciicast_test

import (
	"bytes"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/jumpcast/jumpcast/recorder/asciicast"
	"github.com/jumpcast/jumpcast/recorder/asciicast/asciicasttest"
)

// readEvents reads a whole stream: header error, events, the first error
// after the header, and whether the stream ended truncated. It gives up
// after a bound on the number of events (one per input byte and then some)
// so that a Reader that never ends fails the fuzz run instead of hanging.
func readEvents(t *testing.T, data []byte) (hdrErr error, evs []asciicast.Event, err error, truncated bool) {
	t.Helper()
	rd, hdrErr := asciicast.NewReader(bytes.NewReader(data))
	if hdrErr != nil {
		return hdrErr, nil, nil, false
	}
	for range len(data) + 2 {
		ev, err := rd.Next()
		if errors.Is(err, io.EOF) {
			return nil, evs, nil, rd.Truncated()
		}
		if err != nil {
			return nil, evs, err, false
		}
		evs = append(evs, ev)
	}
	t.Fatalf("reader returned more events than the %d-byte input has lines", len(data))
	return nil, nil, nil, false
}

// FuzzReader: no input makes the reader (or Summarize) panic or loop; a
// stream that reads cleanly reads cleanly at every cut, giving a prefix of
// its events (a crash mid-write loses only the line being written); and
// every event the reader returns that jumpcast can write comes back the
// same through the Writer.
func FuzzReader(f *testing.F) {
	casts, _ := filepath.Glob("testdata/*.cast")
	for _, p := range casts {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b, uint16(len(b)/2))
		}
	}
	f.Add([]byte(`{"version":2,"width":80,"height":24}`+"\n"+`[0.5,"o","hi"]`+"\n"+`[1,"x","0"]`), uint16(40))
	f.Fuzz(func(t *testing.T, data []byte, cut uint16) {
		if _, err := asciicast.Summarize(bytes.NewReader(data)); err != nil && err.Error() == "" {
			t.Fatal("empty error message")
		}
		hdrErr, evs, err, truncated := readEvents(t, data)
		if hdrErr != nil || err != nil {
			return
		}
		checkPrefix(t, data, int(cut)%(len(data)+1), evs, truncated)
		roundTrip(t, evs)
	})
}

// checkPrefix reads data[:n] and checks it yields a prefix of evs, with
// only the header line allowed to fail. When the whole stream ends with a
// partial line (wholeTruncated), a cut of that line may parse as one more
// event.
func checkPrefix(t *testing.T, data []byte, n int, evs []asciicast.Event, wholeTruncated bool) {
	t.Helper()
	hdrErr, got, err, truncated := readEvents(t, data[:n])
	if hdrErr != nil {
		if n > headerEnd(data) {
			t.Fatalf("cut at %d after a complete header: %v", n, hdrErr)
		}
		return
	}
	if err != nil {
		t.Fatalf("cut at %d: %v (the whole stream reads cleanly)", n, err)
	}
	extra := 0
	if wholeTruncated && lineStart(data, n) == lineStart(data, len(data)) {
		extra = 1
	}
	if len(got) > len(evs)+extra {
		t.Fatalf("cut at %d gave %d events, the whole stream %d", n, len(got), len(evs))
	}
	for i := range min(len(got), len(evs)) {
		if !sameEvent(got[i], evs[i]) {
			t.Fatalf("cut at %d: event %d = %+v, want %+v", n, i, got[i], evs[i])
		}
	}
	// A cut inside an event line that then fails to parse must be
	// reported as truncated.
	if ls := lineStart(data[:n], n); ls > headerEnd(data) {
		if _, partial, err := decodeLast(data[:n]); partial && err != nil && !truncated {
			t.Fatalf("cut at %d inside an event line not reported as truncated", n)
		}
	}
}

// headerEnd returns the offset of the newline that ends the header line
// (the first line that is not blank), or len(data).
func headerEnd(data []byte) int {
	off := 0
	for off < len(data) {
		nl := bytes.IndexByte(data[off:], '\n')
		if nl < 0 {
			return len(data)
		}
		if len(bytes.TrimSpace(data[off:off+nl])) > 0 {
			return off + nl
		}
		off += nl + 1
	}
	return len(data)
}

// lineStart returns the offset where the line holding offset n starts.
func lineStart(data []byte, n int) int {
	return bytes.LastIndexByte(data[:n], '\n') + 1
}

// decodeLast decodes the last (partial) line of b.
func decodeLast(b []byte) (asciicast.Event, bool, error) {
	line := bytes.TrimSpace(b[lineStart(b, len(b)):])
	if len(line) == 0 {
		return asciicast.Event{}, false, nil
	}
	var ev asciicast.Event
	err := ev.UnmarshalJSON(line) // the Reader's decoding of one line
	return ev, true, err
}

func sameEvent(a, b asciicast.Event) bool {
	return a.Code == b.Code && a.Data == b.Data && (a.Time == b.Time || math.IsNaN(a.Time) && math.IsNaN(b.Time))
}

// roundTrip writes the events the Writer can produce (o, i, r, m with
// sane times) through a Writer and reads them back.
func roundTrip(t *testing.T, evs []asciicast.Event) {
	t.Helper()
	var want []asciicast.Event
	clock := &asciicasttest.Clock{}
	var buf bytes.Buffer
	w, err := asciicast.NewWriter(&buf, asciicast.Header{}, asciicast.WriterOptions{Clock: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	last := 0.0
	for _, ev := range evs {
		if !(ev.Time >= 0 && ev.Time < 1e6) {
			continue
		}
		clock.Set(time.Duration(ev.Time * float64(time.Second)))
		at := math.Max(last, float64(clock.Now().Microseconds())/1e6)
		data := ev.Data
		if !utf8.ValidString(data) { // only a non-string data element, kept as JSON text, can be
			continue
		}
		switch ev.Code {
		case asciicast.CodeOutput, asciicast.CodeInput:
			if data == "" {
				continue
			}
			if ev.Code == asciicast.CodeOutput {
				err = w.Output([]byte(data))
			} else {
				err = w.Input([]byte(data))
			}
		case asciicast.CodeResize:
			wd, ht, perr := asciicast.ParseResize(data)
			if perr != nil {
				continue
			}
			data = asciicast.ResizeData(wd, ht)
			err = w.Resize(wd, ht)
		case asciicast.CodeMarker:
			err = w.Marker(data)
		default:
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		last = at
		want = append(want, asciicast.Event{Time: at, Code: ev.Code, Data: data})
	}
	clock.Set(time.Duration(last * float64(time.Second)))
	if err := w.Close(asciicast.Exit{HasStatus: true, Status: 3}); err != nil {
		t.Fatal(err)
	}
	want = append(want, asciicast.Event{Time: last, Code: asciicast.CodeExit, Data: "3"})
	hdrErr, got, err, truncated := readEvents(t, buf.Bytes())
	if hdrErr != nil || err != nil || truncated {
		t.Fatalf("written stream does not read back: %v %v truncated=%v\n%s", hdrErr, err, truncated, buf.Bytes())
	}
	if len(got) != len(want) {
		t.Fatalf("wrote %d events, read %d", len(want), len(got))
	}
	for i := range got {
		if got[i].Code != want[i].Code || got[i].Data != want[i].Data || math.Abs(got[i].Time-want[i].Time) > 1e-6 {
			t.Fatalf("event %d: wrote %+v, read %+v", i, want[i], got[i])
		}
	}
}
