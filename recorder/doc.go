// Package recorder owns jumpcast's session recordings: the asciicast v2
// format (Header, Event, Writer, Reader, Play), the recordings folder on disk
// (Dir: server-made names under an os.Root, 0600 files, 0700 folders), the
// live fan-out of running sessions to watchers (Hub), and the Manager that
// ties them together behind the proxy's recording seam and reports each
// recording's recording.Meta to an Index once at start and once at end.
//
// The package imports nothing else of jumpcast but the leaf
// internal/recording (a recording's id, statuses and metadata row, which it
// shares with the store): it knows no SSH and no HTTP.
//
// Exactness is the point: a UTF-8 character split across two reads is joined
// (a carry of at most 3 bytes per stream), only truly invalid bytes become
// U+FFFD, every window change becomes an "r" event, and for valid UTF-8
// output the concatenated "o" data equals, byte for byte, what the admin's
// client received. Durability: encoded event lines are buffered and written
// to the file whole, at least once per flush interval and at close, so a file
// cut by a crash is valid asciicast up to its last flush.
package recorder
