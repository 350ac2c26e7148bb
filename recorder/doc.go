// Package recorder owns jumpcast's session recordings as a policy: the
// Manager behind the proxy's recording seam, which starts a Session per
// session channel and reports each recording's recording.Meta to an Index
// once at start and once at end; the recordings folder on disk (Dir:
// server-made names under an os.Root, 0600 files, 0700 folders, re-hashing
// with Check); the live fan-out of running sessions to watchers (Hub,
// Subscription); and the sftp watch, which recognises a stream that speaks
// SFTP whatever started it and records its file operations as markers.
// The file format itself is package asciicast's.
//
// The package imports nothing else of jumpcast but recorder/asciicast and
// the leaf internal/recording (a recording's id, statuses and metadata row,
// which it shares with the store): it knows no SSH and no HTTP.
//
// A Session never encodes or writes on the caller's goroutine: Output,
// Input and Resize take the event's time, copy the bytes and queue them
// (queue.go); one worker at a time writes them in order through an
// asciicast.Writer into the file and its SHA-256. Every window change
// becomes an "r" event; input is recorded only with SessionInfo.RecordInput;
// sessions without a PTY have binary runs summarized.
package recorder
