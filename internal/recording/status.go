package recording

// Status is where a recording is in its life. It is stored as its string
// (in the index rows and their status index) and shown as such in the web,
// the API and the CLI; the zero value is no status.
//
// A recording is StatusActive from the moment its session starts until it
// ends; then it becomes exactly one of the final statuses and never changes
// again.
type Status string

// The statuses of a recording.
const (
	// StatusActive: the session is running and being recorded now.
	StatusActive Status = "active"
	// StatusFinished: the session ended and its file was closed cleanly.
	StatusFinished Status = "finished"
	// StatusInterrupted: the server died while the session was active; the
	// file holds what was flushed before (see MaxFlushInterval).
	StatusInterrupted Status = "interrupted"
	// StatusFailed: the file could not be written (Meta.Error says why);
	// it holds what was written before the failure.
	StatusFailed Status = "failed"
)

// Statuses returns every status, in lifecycle order (a new slice on each
// call, for filters and forms).
func Statuses() []Status {
	return []Status{StatusActive, StatusFinished, StatusInterrupted, StatusFailed}
}

// Valid reports whether s is one of the four statuses.
func (s Status) Valid() bool {
	return s == StatusActive || s.Final()
}

// Final reports whether s is a status a recording ends with: finished,
// interrupted or failed.
func (s Status) Final() bool {
	return s == StatusFinished || s == StatusInterrupted || s == StatusFailed
}
