// Package store is jumpcast's index. It owns the index's vocabulary
// (Filter, Page, Account, APIToken, HostKeyPin, Node, the sentinel
// errors), the Index interface the rest of jumpcast uses, and the default
// backend, *Store: one bbolt file holding the metadata
// of every recorded session (a recording.Meta per row), the audit log, the
// web accounts, the API tokens and the access locks. The recordings
// themselves are asciicast files owned by package recorder; the store only
// names them (Meta.Path) and keeps their size and SHA-256.
//
// # Layout
//
// All buckets are created in one transaction when the file is opened, and a
// schema version in the "meta" bucket drives migrations (see schema.go).
//
//	recordings       id → row (compact binary, see codec.go)
//	idx_user         user \x00 id → duration (8 bytes, big-endian)
//	idx_target       alias \x00 id and host \x00 id → duration
//	idx_remote_user  remote user \x00 id → duration
//	idx_status       status \x00 id → duration
//	idx_duration     duration (8 bytes, big-endian) id → empty
//	stats            counters kept in step with every write (Stats)
//	audit            time (8) seq (8) → JSON audit.Event
//	audit_user       user \x00 time seq → empty
//	audit_kind       kind \x00 time seq → empty
//	auditors         name → JSON Account (the bucket keeps its first name)
//	tokens           id → JSON APIToken
//	token_hash       hash → id
//	locks            id → JSON lock.Lock (access locks, locks.go)
//	host_keys        address → JSON HostKeyPin (cluster.go)
//	nodes            node id → JSON Node (the node registry, cluster.go)
//
// Recording ids are made by recording.NewID: fixed-width, UTC, so they sort
// as bytes in start order and a time range is a key range. Every secondary
// key ends with the id, so within one user (target, status...) the keys are
// in start order too, and a page of results is a cursor seek followed by at
// most a bounded number of steps (see ListRecordings for the exact bounds).
//
// # Writes
//
// bbolt fsyncs twice per write transaction, so a recording's row is written
// exactly twice: once when the session starts (CreateRecording) and once
// when it ends (FinishRecording). Audit events go through db.Batch so that
// concurrent logins share one fsync.
//
// # Concurrency
//
// A *Store is safe for concurrent use; bbolt serialises writers and lets
// readers run in parallel. The file is locked exclusively by one process:
// a second Open (even in the same process) waits Options.Timeout and fails
// with ErrLocked.
package store
