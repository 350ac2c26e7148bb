package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// PinHostKey pins p.Key as p.Addr's host key unless the address already
// has a pin (insert if absent). It returns the pin as stored: p itself
// (Created set) when it was new, the existing pin when it has the same
// key, and the existing pin with an error wrapping ErrPinConflict when the
// key differs, which is then refused.
func (s *Store) PinHostKey(ctx context.Context, p HostKeyPin) (HostKeyPin, error) {
	if err := CheckPin(&p); err != nil {
		return HostKeyPin{}, err
	}
	var got HostKeyPin
	err := s.update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketHostKeys)
		switch err := getJSON(b, []byte(p.Addr), &got); {
		case err == nil:
			return nil
		case !errors.Is(err, ErrNotFound):
			return err
		}
		got = p
		data, err := json.Marshal(&p)
		if err != nil {
			return err
		}
		return b.Put([]byte(p.Addr), data)
	})
	if err != nil {
		return HostKeyPin{}, fmt.Errorf("pin host key of %s: %w", p.Addr, err)
	}
	return got, PinConflict(got, p)
}

// CheckPin validates a pin for PinHostKey and sets a zero Created to now.
// Every backend calls it.
func CheckPin(p *HostKeyPin) error {
	if p.Addr == "" || len(p.Key) == 0 {
		return fmt.Errorf("pin host key %q: empty address or key", p.Addr)
	}
	if p.Created.IsZero() {
		p.Created = time.Now().UTC()
	}
	return nil
}

// PinConflict returns nil when stored pins the key that want asked for,
// else an error wrapping ErrPinConflict that names the address.
func PinConflict(stored, want HostKeyPin) error {
	if bytes.Equal(stored.Key, want.Key) {
		return nil
	}
	return fmt.Errorf("pin host key of %s: %w (%s)", want.Addr, ErrPinConflict, stored.Type)
}

// HostKeyPins returns every pinned host key, by address.
func (s *Store) HostKeyPins(ctx context.Context) ([]HostKeyPin, error) {
	out, err := listJSON[HostKeyPin](s, ctx, bucketHostKeys, "pin")
	if err != nil {
		return nil, fmt.Errorf("list host key pins: %w", err)
	}
	return out, nil
}

// HostKeyPin returns addr's pin, or an error wrapping ErrNotFound.
func (s *Store) HostKeyPin(ctx context.Context, addr string) (HostKeyPin, error) {
	var p HostKeyPin
	err := s.view(ctx, func(tx *bolt.Tx) error { return getJSON(tx.Bucket(bucketHostKeys), []byte(addr), &p) })
	if err != nil {
		return HostKeyPin{}, fmt.Errorf("host key pin of %s: %w", addr, err)
	}
	return p, nil
}

// DeleteHostKeyPin removes addr's pin (its next key is then trusted on
// first use again) and returns it, or an error wrapping ErrNotFound.
func (s *Store) DeleteHostKeyPin(ctx context.Context, addr string) (HostKeyPin, error) {
	var p HostKeyPin
	err := s.update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketHostKeys)
		if err := getJSON(b, []byte(addr), &p); err != nil {
			return err
		}
		return b.Delete([]byte(addr))
	})
	if err != nil {
		return HostKeyPin{}, fmt.Errorf("delete host key pin of %s: %w", addr, err)
	}
	return p, nil
}

// RegisterNode creates or replaces the registry row n.ID, with Started and
// Heartbeat set to now.
func (s *Store) RegisterNode(ctx context.Context, n Node) error {
	if n.ID == "" {
		return errors.New("register node: empty id")
	}
	n.Started = time.Now().UTC()
	n.Heartbeat = n.Started
	data, err := json.Marshal(&n)
	if err != nil {
		return fmt.Errorf("register node %s: %w", n.ID, err)
	}
	err = s.update(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketNodes).Put([]byte(n.ID), data)
	})
	if err != nil {
		return fmt.Errorf("register node %s: %w", n.ID, err)
	}
	return nil
}

// NodeHeartbeat sets the node's Heartbeat to now, or fails with an error
// wrapping ErrNotFound when it is not registered.
func (s *Store) NodeHeartbeat(ctx context.Context, id string) error {
	err := s.update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketNodes)
		var n Node
		if err := getJSON(b, []byte(id), &n); err != nil {
			return err
		}
		n.Heartbeat = time.Now().UTC()
		data, err := json.Marshal(&n)
		if err != nil {
			return err
		}
		return b.Put([]byte(id), data)
	})
	if err != nil {
		return fmt.Errorf("heartbeat of node %s: %w", id, err)
	}
	return nil
}

// ListNodes returns the registry, by id.
func (s *Store) ListNodes(ctx context.Context) ([]Node, error) {
	out, err := listJSON[Node](s, ctx, bucketNodes, "node")
	if err != nil {
		return nil, fmt.Errorf("list nodes: %w", err)
	}
	return out, nil
}
