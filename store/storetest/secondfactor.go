package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/jumpcast/jumpcast/store"
)

// testSecondFactors: a second factor needs its account, survives a
// password change, refuses a replayed TOTP step, spends each recovery
// code once, and goes with its account.
func testSecondFactors(t *testing.T, ix store.Index) {
	ctx := context.Background()
	f := store.SecondFactor{Account: "erin", TOTPSecret: "JBSWY3DPEHPK3PXP", RecoveryHashes: []string{"r1", "r2"},
		Passkeys: []store.Passkey{{ID: []byte{1, 2, 3}, Name: "laptop", Credential: json.RawMessage(`{"k":1}`)}}}
	if err := ix.PutSecondFactor(ctx, f); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second factor without its account: %v", err)
	}
	if _, err := ix.PutAccount(ctx, store.Account{Name: "erin", PasswordHash: "h1", Role: store.RoleAuditor}); err != nil {
		t.Fatal(err)
	}
	if _, err := ix.GetSecondFactor(ctx, "erin"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("before enrolment: %v", err)
	}
	if err := ix.PutSecondFactor(ctx, f); err != nil {
		t.Fatal(err)
	}
	if _, err := ix.PutAccount(ctx, store.Account{Name: "erin", PasswordHash: "h2", Role: store.RoleAuditor}); err != nil {
		t.Fatal(err)
	}
	got, err := ix.GetSecondFactor(ctx, "erin")
	if err != nil || !got.Enrolled() || got.TOTPSecret != f.TOTPSecret || len(got.Passkeys) != 1 ||
		got.Passkeys[0].Name != "laptop" || !jsonEqual(got.Passkeys[0].Credential, `{"k":1}`) || got.Updated.IsZero() {
		t.Fatalf("after a password change: %+v, %v", got, err)
	}
	if err := ix.UseTOTPStep(ctx, "erin", 100); err != nil {
		t.Errorf("first code: %v", err)
	}
	for _, step := range []int64{100, 99} {
		if err := ix.UseTOTPStep(ctx, "erin", step); !errors.Is(err, store.ErrCodeUsed) {
			t.Errorf("step %d after 100: %v, want ErrCodeUsed", step, err)
		}
	}
	if err := ix.UseTOTPStep(ctx, "erin", 101); err != nil {
		t.Errorf("next step: %v", err)
	}
	if left, err := ix.UseRecoveryCode(ctx, "erin", "r2"); err != nil || left != 1 {
		t.Errorf("recovery code: %d left, %v", left, err)
	}
	for _, h := range []string{"r2", "nope", ""} {
		if _, err := ix.UseRecoveryCode(ctx, "erin", h); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("recovery code %q: %v, want ErrNotFound", h, err)
		}
	}
	if err := ix.UseTOTPStep(ctx, "nobody", 1); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("TOTP of nobody: %v", err)
	}
	if err := ix.DeleteSecondFactor(ctx, "erin"); err != nil {
		t.Fatal(err)
	}
	if err := ix.DeleteSecondFactor(ctx, "erin"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second reset: %v", err)
	}
	if err := ix.PutSecondFactor(ctx, f); err != nil {
		t.Fatal(err)
	}
	if err := ix.DeleteAccount(ctx, "erin"); err != nil {
		t.Fatal(err)
	}
	if _, err := ix.PutAccount(ctx, store.Account{Name: "erin", PasswordHash: "h3", Role: store.RoleAuditor}); err != nil {
		t.Fatal(err)
	}
	if _, err := ix.GetSecondFactor(ctx, "erin"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a re-created account inherited the old second factor: %v", err)
	}
}

// jsonEqual compares JSON texts by value (PostgreSQL's jsonb respaces
// them).
func jsonEqual(a json.RawMessage, b string) bool {
	var x, y any
	return json.Unmarshal(a, &x) == nil && json.Unmarshal([]byte(b), &y) == nil && reflect.DeepEqual(x, y)
}
