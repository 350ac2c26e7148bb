package store

import (
	"bytes"
	"context"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/jumpcast/jumpcast/internal/recording"
)

// SilentNodeError is the Meta.Error of a recording that another node
// marked interrupted because its own node stopped its heartbeat
// (InterruptSilentNode). The owner's RecoverActive repairs such rows
// from its files when it comes back, as it does its own active rows.
const SilentNodeError = "its node stopped answering; the row is repaired from the file when that node comes back"

// MarkSilent turns r, an active recording of a node last heard of at
// heartbeat, into the row InterruptSilentNode stores: interrupted, with
// SilentNodeError, ending at the heartbeat (the last moment the node was
// known alive; its start when earlier).
func MarkSilent(r *recording.Meta, heartbeat time.Time) {
	r.Status, r.Error = recording.StatusInterrupted, SilentNodeError
	r.End = heartbeat.UTC()
	if r.End.Before(r.Start) {
		r.End = r.Start
	}
	r.Duration = r.End.Sub(r.Start)
}

// Repairable says whether RecoverActive for node rewrites r: an active
// row of node (or of no node), or one InterruptSilentNode marked for it.
func Repairable(r *recording.Meta, node string) bool {
	switch {
	case r.Status == recording.StatusActive:
		return r.Node == "" || r.Node == node
	case r.Status == recording.StatusInterrupted && r.Error == SilentNodeError:
		return r.Node == node
	}
	return false
}

// InterruptSilentNode marks the active recordings of node interrupted
// (MarkSilent) when its registry heartbeat is older than silentFor, and
// returns the rows it changed; none when the node is alive, unknown, or
// has no active recording. Several nodes may call it at once for the same
// node: each row is changed, and returned, by exactly one of them.
func (s *Store) InterruptSilentNode(ctx context.Context, node string, silentFor time.Duration) ([]recording.Meta, error) {
	var out []recording.Meta
	err := s.update(ctx, func(tx *bolt.Tx) error {
		out = nil
		var n Node
		if err := getJSON(tx.Bucket(bucketNodes), []byte(node), &n); err != nil {
			if err == ErrNotFound {
				return nil
			}
			return err
		}
		if time.Since(n.Heartbeat) < silentFor {
			return nil
		}
		active, err := activeRows(tx)
		if err != nil {
			return err
		}
		for i := range active {
			if active[i].Node != node {
				continue
			}
			old := active[i]
			MarkSilent(&active[i], n.Heartbeat)
			if err := writeRecording(tx, &old, &active[i]); err != nil {
				return err
			}
			out = append(out, active[i])
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("interrupt recordings of silent node %s: %w", node, err)
	}
	return out, nil
}

// SealSilentRecording records the file that another node made of the
// parts a lost node streamed (its size, hex SHA-256 and location) in id's
// row, when that row is still as InterruptSilentNode left it: interrupted
// with SilentNodeError and no SHA-256 yet. It reports whether it changed
// the row: false when the row is gone, was already sealed, or its owner
// repaired it meanwhile (its spool copy, longer, wins). The row keeps
// SilentNodeError, so that the owner, if it ever comes back, still
// repairs it from its own copy (RecoverActive).
func (s *Store) SealSilentRecording(ctx context.Context, id string, size int64, sha256, location string) (bool, error) {
	changed := false
	err := s.update(ctx, func(tx *bolt.Tx) error {
		changed = false
		old, err := getRow(tx, id)
		if err == ErrNotFound {
			return nil
		}
		if err != nil {
			return err
		}
		if !Sealable(old) {
			return nil
		}
		r := *old
		r.FileSize, r.SHA256, r.Location = size, sha256, location
		changed = true
		return writeRecording(tx, old, &r)
	})
	if err != nil {
		return false, fmt.Errorf("seal recording %s of a silent node: %w", id, err)
	}
	return changed, nil
}

// Sealable says whether SealSilentRecording may change r: a row
// InterruptSilentNode marked and nobody has given a file yet.
func Sealable(r *recording.Meta) bool {
	return r.Status == recording.StatusInterrupted && r.Error == SilentNodeError && r.SHA256 == ""
}

// silentRows returns node's rows that InterruptSilentNode marked.
func silentRows(tx *bolt.Tx, node string) ([]recording.Meta, error) {
	var out []recording.Meta
	prefix := []byte(recording.StatusInterrupted + "\x00")
	rows := tx.Bucket(bucketRecordings)
	c := tx.Bucket(bucketStatus).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		id := k[len(prefix):]
		v := rows.Get(id)
		if len(id) != recording.IDLen || v == nil {
			continue
		}
		r, err := decodeRow(string(id), v)
		if err != nil {
			return nil, err
		}
		if r.Error == SilentNodeError && r.Node == node {
			out = append(out, r)
		}
	}
	return out, nil
}
