package main

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jumpcast/jumpcast/internal/audit"
	"github.com/jumpcast/jumpcast/store"
)

// TestAuditorResetMFA runs the real binary: reset-mfa removes an
// account's second factor and writes an audit event; an account without
// one is an error.
func TestAuditorResetMFA(t *testing.T) {
	cfg := roleConfig(t)
	if _, errOut, code := runJumpcast(t, "a long enough password\n", "auditor", "add", "dave", "-c", cfg); code != 0 {
		t.Fatalf("auditor add: %d %s", code, errOut)
	}
	db := filepath.Join(filepath.Dir(cfg), "data", "jumpcast.db")
	withStore := func(fn func(*store.Store)) {
		st, err := store.Open(db, store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = st.Close() }()
		fn(st)
	}
	withStore(func(st *store.Store) {
		if err := st.PutSecondFactor(context.Background(), store.SecondFactor{Account: "dave", TOTPSecret: "JBSWY3DPEHPK3PXP", RecoveryHashes: []string{"x"}}); err != nil {
			t.Fatal(err)
		}
	})
	out, errOut, code := runJumpcast(t, "", "auditor", "reset-mfa", "dave", "-c", cfg)
	if code != 0 || !strings.Contains(out, "second factor of dave removed") {
		t.Fatalf("reset-mfa: %d %q %q", code, out, errOut)
	}
	withStore(func(st *store.Store) {
		if _, err := st.GetSecondFactor(context.Background(), "dave"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("second factor still there: %v", err)
		}
		evs, _, err := st.ListAudit(context.Background(), store.AuditFilter{Limit: 10})
		found := false
		for _, ev := range evs {
			found = found || ev.Kind == audit.KindWebAdmin && ev.Detail[audit.DetailAction] == string(audit.ActionResetSecondFactor) && ev.Detail[audit.DetailSubject] == "dave"
		}
		if err != nil || !found {
			t.Errorf("no reset event in %v (%v)", evs, err)
		}
	})
	if _, errOut, code := runJumpcast(t, "", "auditor", "reset-mfa", "dave", "-c", cfg); code == 0 || !strings.Contains(errOut, "no second factor") {
		t.Errorf("second reset: exit %d, %q", code, errOut)
	}
}
