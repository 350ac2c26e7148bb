// Package asciicast owns jumpcast's recording format, asciicast v2: the
// header (Header, with jumpcast's own metadata under "jumpcast") and the
// event ([time, code, data]) types, the Writer that encodes a session's
// events, the Reader and Summarize that read them back, Play, which replays
// them at their pace, the Sanitizer, which keeps what they could do to a
// real terminal from reaching it, and ScanLines, which turns them into the lines a
// terminal showed (for grep and the web's screen search).
//
// It knows nothing of sessions, folders or indexes (those are package
// recorder's) and imports nothing else of jumpcast but the leaf
// internal/recording, for the flush bound (MaxFlushInterval) that the
// configuration shares.
//
// Exactness is the point: a UTF-8 character split across two writes is
// joined (a carry of at most 3 bytes per stream), only truly invalid bytes
// become U+FFFD, and for valid UTF-8 output the concatenated "o" data
// equals, byte for byte, what the Writer was given. The event encoder
// (jsonstr.go) writes byte for byte what encoding/json would, at a fraction
// of the cost. Durability: encoded event lines are buffered and written
// whole, at least once per flush interval and at Close, so a file cut by a
// crash is valid asciicast up to its last flush; the Reader reads such a
// file to its last whole line and reports it Truncated.
//
// Files: asciicast.go (header, event, codes, exit), writer.go and carry.go
// (encoding, buffering, the UTF-8 carry, binary-run summaries), jsonstr.go
// (the JSON string encoder), reader.go (Reader, Summarize), play.go,
// sanitize.go (Sanitizer) and lines.go (ScanLines, Offset). Package asciicasttest helps tests.
package asciicast
