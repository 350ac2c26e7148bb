package asciicast

import (
	"encoding/json"
	"fmt"
	"strconv"
)

// Event codes of asciicast v2, plus jumpcast's trailing exit event. Readers
// of v2 ignore codes they do not know, so "x" is safe to write.
const (
	CodeOutput = "o" // what the admin saw (stdout and stderr)
	CodeInput  = "i" // what the admin typed (only when input recording is on)
	CodeResize = "r" // a window change, data "WIDTHxHEIGHT"
	CodeMarker = "m" // a marker with a label
	CodeExit   = "x" // the exit status, decimal, or "SIG"+name for a signal
)

// Default terminal size written when a session has no PTY (or a PTY
// request without a size).
const (
	DefaultWidth  = 80
	DefaultHeight = 24
)

// Header is the first line of an asciicast v2 file. Unknown keys are
// ignored by players, so jumpcast's own metadata sits under "jumpcast".
type Header struct {
	Version   int               `json:"version"`
	Width     int               `json:"width"`
	Height    int               `json:"height"`
	Timestamp int64             `json:"timestamp,omitempty"` // Unix seconds of the start; 0 = unknown
	Command   string            `json:"command,omitempty"`
	Title     string            `json:"title,omitempty"`
	Env       map[string]string `json:"env,omitempty"` // TERM and SHELL only, when jumpcast writes it
	// Duration and IdleTimeLimit are never written by jumpcast (a streamed
	// header cannot know its duration) but are read from other casts.
	Duration      float64     `json:"duration,omitempty"`
	IdleTimeLimit float64     `json:"idle_time_limit,omitempty"`
	Jumpcast      *HeaderMeta `json:"jumpcast,omitempty"`
}

// HeaderMeta is jumpcast's metadata in the header: who, from where, to where.
type HeaderMeta struct {
	SessionID      string `json:"session_id,omitempty"`
	User           string `json:"user,omitempty"`
	KeyFingerprint string `json:"key_fingerprint,omitempty"`
	RemoteUser     string `json:"remote_user,omitempty"`
	Target         string `json:"target,omitempty"`
	TargetAddr     string `json:"target_addr,omitempty"`
	ClientAddr     string `json:"client_addr,omitempty"`
	Kind           string `json:"kind,omitempty"`
}

// Event is one asciicast v2 event line: [time, code, data]. Time is seconds
// since the start of the recording; it is written with microsecond
// precision.
type Event struct {
	Time float64
	Code string
	Data string
}

// MarshalJSON encodes e as [time, code, data], the time as a fixed
// 6-decimal number (microseconds, never exponent notation). Invalid UTF-8
// in Data becomes U+FFFD, one per invalid byte (encoding/json's rule).
func (e Event) MarshalJSON() ([]byte, error) {
	return appendEvent(nil, e.Time, e.Code, e.Data), nil
}

// UnmarshalJSON decodes [time, code, data]. A data element that is not a
// string (only possible for codes jumpcast does not write) is kept as its
// JSON text.
func (e *Event) UnmarshalJSON(b []byte) error {
	ev, err := decodeEvent(b)
	if err != nil {
		return err
	}
	*e = ev
	return nil
}

// decodeEvent parses one event line: one decoding pass straight into the
// fields in the common case, a slower element-by-element pass otherwise.
func decodeEvent(b []byte) (Event, error) {
	var ev Event
	tuple := []any{&ev.Time, &ev.Code, &ev.Data}
	if err := json.Unmarshal(b, &tuple); err == nil && len(tuple) == 3 {
		return ev, nil
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return Event{}, fmt.Errorf("asciicast event: %w", err)
	}
	if len(raw) < 3 {
		return Event{}, fmt.Errorf("asciicast event: %d elements, want 3", len(raw))
	}
	ev = Event{}
	if err := json.Unmarshal(raw[0], &ev.Time); err != nil {
		return Event{}, fmt.Errorf("asciicast event time: %w", err)
	}
	if err := json.Unmarshal(raw[1], &ev.Code); err != nil {
		return Event{}, fmt.Errorf("asciicast event code: %w", err)
	}
	if err := json.Unmarshal(raw[2], &ev.Data); err != nil {
		ev.Data = string(raw[2])
	}
	return ev, nil
}

// resizeData is the data of an "r" event: "WIDTHxHEIGHT".
func resizeData(width, height int) string {
	return strconv.Itoa(width) + "x" + strconv.Itoa(height)
}

// ParseResize parses the data of an "r" event.
func ParseResize(data string) (width, height int, err error) {
	if _, err := fmt.Sscanf(data, "%dx%d", &width, &height); err != nil {
		return 0, 0, fmt.Errorf("resize data %q: %w", data, err)
	}
	return width, height, nil
}

// Exit is how a session ended, as the proxy passed it to the client.
type Exit struct {
	// Status is the exit-status value; valid when HasStatus.
	Status    int
	HasStatus bool
	// Signal is the exit-signal name without "SIG" ("KILL"), or "".
	Signal string
	// Reason is a short human reason when the session did not end by its
	// own exit ("client disconnected", "target closed", "recording failed").
	Reason string
}

// exitData is the data of the trailing "x" event for exit: the decimal
// status, else "SIG"+signal, else "" when neither is known.
func exitData(exit Exit) string {
	switch {
	case exit.HasStatus:
		return strconv.Itoa(exit.Status)
	case exit.Signal != "":
		return "SIG" + exit.Signal
	}
	return ""
}
