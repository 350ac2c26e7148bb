// Package lock is the vocabulary of access locks, as operators know them
// from Teleport: a lock names a bastion user, an SSH key (or the CA of
// user certificates) or a target, and while it is in force no connection
// it matches may stay open or be opened. A lock may expire; until then it
// lives in the index (package store) so that it survives restarts.
//
// It is a leaf: store keeps Lock values, proxy matches connections
// against them (Set), and the CLI and the web site create and remove them
// through the program's wiring; none of those need another for it.
package lock

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
)

// Lock is one access lock. Exactly one field of Target is set.
type Lock struct {
	// ID names the lock for "jumpcast lock rm" and the web page: 8 random
	// bytes in hex, made by NewID (random rather than a counter, so that
	// several nodes sharing one database never need to agree on the next
	// number).
	ID string `json:"id"`
	// Target is what the lock applies to.
	Target Target `json:"target"`
	// Reason is shown to the admins whose connections it closes or
	// refuses, and kept in the audit trail; "" when none was given.
	// Validate bounds it and refuses control characters.
	Reason string `json:"reason,omitempty"`
	// Created is when the lock was made (UTC); CreatedBy who made it
	// ("an operator on the bastion", "admin carol").
	Created   time.Time `json:"created"`
	CreatedBy string    `json:"created_by,omitempty"`
	// Expires is when the lock stops applying; zero means it applies until
	// it is removed. An expired lock is kept until it is removed, so that
	// "jumpcast lock ls" still shows it, and matches nothing.
	Expires time.Time `json:"expires,omitzero"`
}

// Target is what a lock applies to. Exactly one field is set.
type Target struct {
	// User is a bastion user name: every connection that authenticated as
	// that user.
	User string `json:"user,omitempty"`
	// Key is an SSH key's SHA-256 fingerprint ("SHA256:..."): every
	// connection that authenticated with that key, or with a user
	// certificate of that key or signed by that CA key.
	Key string `json:"key,omitempty"`
	// Target is a target alias or, for targets reached by host name, the
	// host as admins type it: every connection to it, and every forward
	// (ssh -J) through the bastion to it.
	Target string `json:"target,omitempty"`
}

// String names the target for messages: "user alice", "key SHA256:...",
// "target db1".
func (t Target) String() string {
	switch {
	case t.User != "":
		return "user " + t.User
	case t.Key != "":
		return "key " + t.Key
	default:
		return "target " + t.Target
	}
}

// MaxReason bounds a lock's reason, in characters: it is printed on the
// terminals of the admins it locks out.
const MaxReason = 200

// Validate checks that l names exactly one target and that its reason is
// printable on a terminal and at most MaxReason characters.
func (l Lock) Validate() error {
	n := 0
	for _, v := range []string{l.Target.User, l.Target.Key, l.Target.Target} {
		if v != "" {
			n++
		}
		if strings.ContainsFunc(v, func(r rune) bool { return unicode.IsSpace(r) || !unicode.IsPrint(r) }) {
			return fmt.Errorf("lock target %q: spaces or control characters", v)
		}
	}
	if n != 1 {
		return errors.New("a lock names exactly one of a user, a key or a target")
	}
	if k := l.Target.Key; k != "" && !strings.HasPrefix(k, "SHA256:") {
		return fmt.Errorf("lock key %q: want a SHA256 fingerprint (SHA256:...), as ssh-keygen -lf prints it", k)
	}
	if strings.ContainsFunc(l.Reason, func(r rune) bool { return !unicode.IsPrint(r) && r != ' ' }) {
		return errors.New("lock reason: control characters")
	}
	if len([]rune(l.Reason)) > MaxReason {
		return fmt.Errorf("lock reason: longer than %d characters", MaxReason)
	}
	return nil
}

// InForce reports whether l applies at now: it has not expired.
func (l Lock) InForce(now time.Time) bool {
	return l.Expires.IsZero() || now.Before(l.Expires)
}

// NewID returns a new lock id: 8 random bytes in hex.
func NewID() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand panics rather than return an error)
	return hex.EncodeToString(b[:])
}

// Subject is what locks are matched against: one admin connection.
type Subject struct {
	User string // the bastion user it authenticated as
	// Keys are the fingerprints of the key that authenticated it and, for
	// a user certificate, of the CA that signed it.
	Keys []string
	// Targets are the target aliases or hosts it reaches: the login's
	// target, and the destinations of its forwards.
	Targets []string
}

// Matches reports whether l names s's user, one of its keys or one of its
// targets. It does not look at expiry (see InForce).
func (l Lock) Matches(s Subject) bool {
	t := l.Target
	switch {
	case t.User != "":
		return t.User == s.User
	case t.Key != "":
		return slices.Contains(s.Keys, t.Key)
	case t.Target != "":
		return slices.Contains(s.Targets, t.Target)
	}
	return false
}

// Message is the line an admin is shown (after "jumpcast: ") for a
// connection l closes or refuses: "access locked (user alice): incident
// 42", or without the reason when there is none.
func (l Lock) Message() string {
	msg := "access locked (" + l.Target.String() + ")"
	if l.Reason != "" {
		msg += ": " + l.Reason
	}
	return msg
}

// Set is a list of locks as a node applies them. It is never changed once
// made: a change of locks makes a new Set.
type Set struct {
	locks []Lock
}

// NewSet returns the set of locks.
func NewSet(locks []Lock) *Set {
	return &Set{locks: append([]Lock(nil), locks...)}
}

// First returns the first lock in force at now that matches s, or nil.
// A nil Set matches nothing.
func (ls *Set) First(now time.Time, s Subject) *Lock {
	if ls == nil {
		return nil
	}
	for i := range ls.locks {
		if l := &ls.locks[i]; l.InForce(now) && l.Matches(s) {
			return l
		}
	}
	return nil
}
