package asciicast

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// Reader reads an asciicast v2 stream: the header, then events one by one.
// A last line without its newline that is not valid JSON (a crash
// mid-write) ends the stream like io.EOF; Truncated then reports it. Events
// of every code are returned, including ones jumpcast does not write:
// callers ignore what they do not use.
type Reader struct {
	br        *bufio.Reader
	hdr       Header
	line      int // number of the last line read, for errors
	truncated bool
	done      bool
}

// NewReader reads and checks the header line. A stream whose header is
// missing, cut or not version 2 is an error.
func NewReader(r io.Reader) (*Reader, error) {
	rd := &Reader{br: bufio.NewReaderSize(r, 64<<10)}
	for {
		line, complete, err := rd.readLine()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil, errors.New("asciicast: no header")
			}
			return nil, fmt.Errorf("asciicast header: %w", err)
		}
		if len(bytes.TrimSpace(line)) == 0 && complete {
			continue
		}
		if err := json.Unmarshal(line, &rd.hdr); err != nil {
			if !complete {
				return nil, fmt.Errorf("asciicast header cut short: %w", err)
			}
			return nil, fmt.Errorf("asciicast header: %w", err)
		}
		break
	}
	if rd.hdr.Version != 2 {
		return nil, fmt.Errorf("asciicast version %d not supported (want 2)", rd.hdr.Version)
	}
	return rd, nil
}

// Header returns the header read by NewReader.
func (r *Reader) Header() Header { return r.hdr }

// Truncated reports whether the stream ended with a partial line (only
// meaningful once Next has returned io.EOF).
func (r *Reader) Truncated() bool { return r.truncated }

// Next returns the next event, or io.EOF at the end of the stream
// (including a truncated final line). A malformed line that is not the
// last one is an error naming its line number.
func (r *Reader) Next() (Event, error) {
	for !r.done {
		line, complete, err := r.readLine()
		if err != nil {
			r.done = true
			if errors.Is(err, io.EOF) {
				break
			}
			return Event{}, fmt.Errorf("asciicast line %d: %w", r.line, err)
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		ev, err := decodeEvent(line)
		if err != nil {
			if !complete {
				r.done, r.truncated = true, true
				break
			}
			return Event{}, fmt.Errorf("asciicast line %d: %w", r.line, err)
		}
		return ev, nil
	}
	return Event{}, io.EOF
}

// readLine returns the next line without its newline, and whether it had
// one. A final line without a newline is returned with complete false; the
// call after it returns io.EOF.
func (r *Reader) readLine() (line []byte, complete bool, err error) {
	line, err = r.br.ReadBytes('\n')
	if len(line) > 0 {
		r.line++
		if line[len(line)-1] == '\n' {
			return line[:len(line)-1], true, nil
		}
		if errors.Is(err, io.EOF) {
			return line, false, nil
		}
	}
	return nil, false, err
}

// Summary describes a (possibly truncated) recording, for crash recovery
// and verification.
type Summary struct {
	Header        Header
	LastEventTime float64 // time of the last complete event, seconds
	Events        int
	ExitStatus    *int   // from the "x" event, nil when absent or not numeric
	ExitSignal    string // "KILL" when the "x" event says "SIGKILL"
	OutputBytes   int64  // bytes of decoded "o" data
	Truncated     bool   // the file ends with a partial line (a crash)
	Closed        bool   // the file has its trailing "x" event
}

// Summarize reads a whole recording. A truncated last line is not an
// error; a bad header or a malformed line in the middle is.
func Summarize(r io.Reader) (Summary, error) {
	rd, err := NewReader(r)
	if err != nil {
		return Summary{}, err
	}
	s := Summary{Header: rd.Header()}
	for {
		ev, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return s, err
		}
		s.Events++
		s.LastEventTime = ev.Time
		switch ev.Code {
		case CodeOutput:
			s.OutputBytes += int64(len(ev.Data))
		case CodeExit:
			s.Closed = true
			if n, err := strconv.Atoi(ev.Data); err == nil {
				s.ExitStatus = &n
			} else if len(ev.Data) > 3 && ev.Data[:3] == "SIG" {
				s.ExitSignal = ev.Data[3:]
			}
		}
	}
	s.Truncated = rd.Truncated()
	return s, nil
}
