package recording

import "time"

// MaxFlushInterval is the longest an event may wait in memory before it is
// written to its recording's file: after a crash, a file holds everything
// recorded up to this long before it. Configuration may lower it, never
// raise it.
const MaxFlushInterval = time.Second

// Meta is a recording's metadata: what the recorder reports to the index
// when the session starts and when it ends, what the store keeps as the
// recording's row, and what the web, the API (as JSON, with the tags below)
// and the CLI show. The file itself holds the events; Meta only names it
// (Path) and fingerprints it (FileSize, SHA256).
//
// Fields marked "at the end" are zero while the recording is active.
type Meta struct {
	// ID is made by NewID from Start; it is the row's key.
	ID string `json:"id"`
	// User is the bastion user who logged in.
	User string `json:"user"`
	// KeyFingerprint is the SHA256 fingerprint of the key (or of the CA of
	// the certificate) that authenticated User.
	KeyFingerprint string `json:"key_fingerprint"`
	// RemoteUser is the user on the target.
	RemoteUser string `json:"remote_user"`
	// TargetAlias is the target's alias in the configuration; "" for a
	// host named directly.
	TargetAlias string `json:"target_alias"`
	// TargetAddr is the host:port that was dialled.
	TargetAddr string `json:"target_addr"`
	// ClientAddr is the admin's address, host:port.
	ClientAddr string `json:"client_addr"`
	// Node is the jumpcast node that records it (config node.id); "" in
	// rows from before nodes had names. Only that node closes it after a
	// crash (store.Index.RecoverActive).
	Node string `json:"node,omitempty"`
	// Kind is how the session channel was used: "shell", "exec", "sftp" or
	// "subsystem" (package recorder names them).
	Kind string `json:"kind"`
	// Command is the exec command or the subsystem's name, cut to
	// MaxCommandLen bytes (CutCommand); "" for a shell. The file's header
	// holds it whole.
	Command string `json:"command,omitempty"`
	// CommandLen is the whole command's length in bytes when Command was
	// cut; 0 when Command is whole.
	CommandLen int `json:"command_len,omitempty"`
	// Title is the recording's title, "root@db1 — alice".
	Title string `json:"title"`
	// Term is the TERM of the pty-req; "" without a terminal.
	Term string `json:"term,omitempty"`
	// Width and Height are the terminal's size at the start, as the file's
	// header states it (80×24 when the client asked for none).
	Width  int `json:"width"`
	Height int `json:"height"`
	// Start is when the session started; TimePrefix(Start) begins ID.
	Start time.Time `json:"start"`
	// End is when the session ended (at the end); for an interrupted
	// recording, the time of its file's last event, zero if unknown.
	End time.Time `json:"end,omitzero"`
	// Duration is how long the session lasted, measured on the monotonic
	// clock (at the end).
	Duration time.Duration `json:"duration"`
	// BytesIn counts the bytes the admin sent to the target, recorded or
	// not; BytesOut the bytes the admin received.
	BytesIn  int64 `json:"bytes_in"`
	BytesOut int64 `json:"bytes_out"`
	// FileSize is the size of the file in bytes (at the end).
	FileSize int64 `json:"file_size"`
	// ExitStatus is the exit-status the target sent; nil when it sent none
	// (a signal, a dropped connection) or while active. A pointer because 0
	// is a status: the JSON omits the field only when there is none.
	ExitStatus *int `json:"exit_status,omitempty"`
	// ExitSignal is the exit-signal's name without "SIG" ("KILL"), or "".
	ExitSignal string `json:"exit_signal,omitempty"`
	// Status is where the recording is in its life.
	Status Status `json:"status"`
	// Error says why the recording failed, or why an interrupted one's
	// file could not be read when it was recovered; "" otherwise.
	Error string `json:"error,omitempty"`
	// Path is the file's path relative to the recordings folder: RelPath(ID)
	// for every recording jumpcast makes.
	Path string `json:"path"`
	// SHA256 is the hex SHA-256 of the finished file (at the end).
	SHA256 string `json:"sha256,omitempty"`
	// Location is where the recording's files are: LocationNode ("", the
	// recordings folder of Node, where every recording starts) or
	// LocationBucket (the shared bucket, once they were uploaded and
	// checked against SHA256). Readers open either through one opener.
	Location string `json:"location,omitempty"`
}

// Recording locations (Meta.Location).
const (
	LocationNode   = ""
	LocationBucket = "bucket"
)
