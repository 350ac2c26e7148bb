package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jumpcast/jumpcast/internal/audit"
	"github.com/jumpcast/jumpcast/internal/lock"
	"github.com/jumpcast/jumpcast/store"
)

// lockKeeper makes and lifts access locks for whoever asks: the CLI
// (directly on the data folder, or through a running server's admin
// socket) and the web site's admin page. Each change is stored, audited,
// then applied to the running proxy, so a lock is in force when the call
// returns.
type lockKeeper struct {
	st    store.Index
	audit audit.Sink // the bastion's audit sink when served; the store itself offline
	// apply hands the whole list of locks to the running proxy
	// (proxy.Server.ApplyLocks); nil when no server runs, and the next
	// start applies what the store holds.
	apply func([]lock.Lock)
	now   func() time.Time
}

// CreateLock stores l (its target, reason and expiry; the id and creation
// are set here) as made by by ("an operator on the bastion", "admin
// carol"); who.User is the web account that asked, "" from the command
// line.
func (k *lockKeeper) CreateLock(ctx context.Context, who audit.Who, by string, l lock.Lock) (lock.Lock, error) {
	l.ID, l.Created, l.CreatedBy = lock.NewID(), k.now().UTC(), by
	if err := l.Validate(); err != nil {
		return lock.Lock{}, err
	}
	if err := k.st.CreateLock(ctx, l); err != nil {
		return lock.Lock{}, err
	}
	err := k.audit.AppendAudit(ctx, audit.LockCreated(who, by, auditLock(l)))
	return l, errors.Join(k.applyAll(ctx), auditErr(err))
}

// RemoveLock deletes the lock id, as CreateLock's by and who.
func (k *lockKeeper) RemoveLock(ctx context.Context, who audit.Who, by, id string) (lock.Lock, error) {
	l, err := k.st.DeleteLock(ctx, id)
	if err != nil {
		return lock.Lock{}, err
	}
	err = k.audit.AppendAudit(ctx, audit.LockRemoved(who, by, auditLock(l)))
	return l, errors.Join(k.applyAll(ctx), auditErr(err))
}

// ListLocks returns every lock, oldest first.
func (k *lockKeeper) ListLocks(ctx context.Context) ([]lock.Lock, error) {
	return k.st.ListLocks(ctx)
}

// applyAll hands the stored locks to the running proxy, if any.
func (k *lockKeeper) applyAll(ctx context.Context) error {
	if k.apply == nil {
		return nil
	}
	all, err := k.st.ListLocks(ctx)
	if err != nil {
		return fmt.Errorf("apply locks: %w", err)
	}
	k.apply(all)
	return nil
}

// auditErr says that a lock change was made but its audit event was not
// stored.
func auditErr(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("the change was made, but its audit event was not stored: %w", err)
}

func auditLock(l lock.Lock) audit.Lock {
	return audit.Lock{ID: l.ID, Subject: l.Target.String(), Reason: l.Reason, Expires: l.Expires}
}
