package store

import (
	"context"
	"errors"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// TestCredentialVersion: PutAccount gives an account a new credential
// version when it is created and whenever its password hash or role
// changes, whoever calls it and whatever version the caller passes; a put
// that changes neither keeps it; a deleted and re-created account never
// gets an old one back; and a row written before the field existed reads
// as version 0 and gets a new one at its first change.
func TestCredentialVersion(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	seen := map[uint64]string{}
	put := func(what string, a Account, wantNew bool) Account {
		t.Helper()
		before, _ := s.GetAccount(ctx, a.Name)
		got, err := s.PutAccount(ctx, a)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		stored, err := s.GetAccount(ctx, a.Name)
		if err != nil || stored.CredentialVersion != got.CredentialVersion {
			t.Fatalf("%s: returned version %d, stored %+v, %v", what, got.CredentialVersion, stored, err)
		}
		v := got.CredentialVersion
		if !wantNew {
			if before == nil || v != before.CredentialVersion {
				t.Errorf("%s: version %d, want it unchanged (%+v)", what, v, before)
			}
			return got
		}
		if v == 0 {
			t.Errorf("%s: version 0", what)
		}
		if prev, ok := seen[v]; ok {
			t.Errorf("%s: version %d was already given to %s", what, v, prev)
		}
		seen[v] = what
		return got
	}
	put("carol created", Account{Name: "carol", Role: RoleAuditor, PasswordHash: "h1"}, true)
	put("dave created", Account{Name: "dave", Role: RoleAuditor, PasswordHash: "h1"}, true)
	put("carol, same hash and role", Account{Name: "carol", Role: RoleAuditor, PasswordHash: "h1"}, false)
	put("carol, a caller's made-up version", Account{Name: "carol", Role: RoleAuditor, PasswordHash: "h1", CredentialVersion: 99}, false)
	put("carol, new password", Account{Name: "carol", Role: RoleAuditor, PasswordHash: "h2"}, true)
	put("carol, new role", Account{Name: "carol", Role: RoleUser, PasswordHash: "h2"}, true)
	put("carol, back to auditor", Account{Name: "carol", Role: RoleAuditor, PasswordHash: "h2"}, true)
	if err := s.DeleteAccount(ctx, "carol"); err != nil {
		t.Fatal(err)
	}
	put("carol re-created as before", Account{Name: "carol", Role: RoleAuditor, PasswordHash: "h2"}, true)

	// A row from a jumpcast that had no credential version.
	err := s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketAccounts).Put([]byte("old"), []byte(`{"name":"old","password_hash":"h0","role":"admin","created":"2025-01-02T03:04:05Z"}`))
	})
	if err != nil {
		t.Fatal(err)
	}
	if a, err := s.GetAccount(ctx, "old"); err != nil || a.CredentialVersion != 0 || a.Role != RoleAdmin {
		t.Fatalf("old row: %+v, %v", a, err)
	}
	put("old, same hash and role", Account{Name: "old", Role: RoleAdmin, PasswordHash: "h0"}, false)
	put("old, new password", Account{Name: "old", Role: RoleAdmin, PasswordHash: "h1"}, true)
}

func TestAccountsAndTokens(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	if _, err := s.PutAccount(ctx, Account{Name: "eve", Role: "root"}); err == nil {
		t.Error("unknown role accepted")
	}
	if _, err := s.PutAccount(ctx, Account{Role: RoleAdmin}); err == nil {
		t.Error("empty name accepted")
	}
	for _, a := range []Account{{Name: "carol", Role: RoleAuditor, PasswordHash: "h1"}, {Name: "ann", Role: RoleAdmin, PasswordHash: "h2"}, {Name: "bob", Role: RoleUser, PasswordHash: "h4"}} {
		if _, err := s.PutAccount(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.PutAccount(ctx, Account{Name: "carol", Role: RoleAdmin, PasswordHash: "h3"}); err != nil {
		t.Fatal(err)
	}
	a, err := s.GetAccount(ctx, "carol")
	if err != nil || a.Role != RoleAdmin || a.PasswordHash != "h3" || a.Created.IsZero() {
		t.Errorf("replaced account: %+v, %v", a, err)
	}
	list, err := s.ListAccounts(ctx)
	if err != nil || len(list) != 3 || list[0].Name != "ann" || list[1].Name != "bob" || list[2].Name != "carol" {
		t.Errorf("list: %+v, %v", list, err)
	}
	if b, err := s.GetAccount(ctx, "bob"); err != nil || b.Role != RoleUser {
		t.Errorf("user account: %+v, %v", b, err)
	}
	if _, err := s.GetAccount(ctx, "nobody"); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing account: %v", err)
	}

	for _, tk := range []APIToken{{ID: "t1", Hash: "aa", Owner: "carol"}, {ID: "t2", Hash: "bb", Owner: "ann"}, {ID: "t3", Hash: "cc", Owner: "carol"}} {
		if err := s.PutToken(ctx, tk); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.PutToken(ctx, APIToken{ID: "t4", Hash: "aa"}); err == nil {
		t.Error("duplicate hash accepted")
	}
	// Rotating a token's secret drops the old hash.
	if err := s.PutToken(ctx, APIToken{ID: "t1", Hash: "a2", Owner: "carol", Name: "ci"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.TokenByHash(ctx, "aa"); !errors.Is(err, ErrNotFound) {
		t.Errorf("old hash still valid: %v", err)
	}
	if tk, err := s.TokenByHash(ctx, "a2"); err != nil || tk.ID != "t1" || tk.Name != "ci" {
		t.Errorf("by hash: %+v, %v", tk, err)
	}
	if err := s.DeleteToken(ctx, "t2"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.TokenByHash(ctx, "bb"); !errors.Is(err, ErrNotFound) {
		t.Errorf("deleted token's hash still valid: %v", err)
	}
	if err := s.DeleteToken(ctx, "t2"); !errors.Is(err, ErrNotFound) {
		t.Errorf("second delete: %v", err)
	}

	// Deleting an account revokes its tokens.
	if err := s.DeleteAccount(ctx, "carol"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteAccount(ctx, "carol"); !errors.Is(err, ErrNotFound) {
		t.Errorf("second delete: %v", err)
	}
	if toks, err := s.ListTokens(ctx); err != nil || len(toks) != 0 {
		t.Errorf("tokens left after deleting their owner: %+v, %v", toks, err)
	}
	if _, err := s.TokenByHash(ctx, "cc"); !errors.Is(err, ErrNotFound) {
		t.Errorf("hash of a deleted owner's token: %v", err)
	}
}

func TestValidRole(t *testing.T) {
	for _, r := range Roles() {
		if !ValidRole(r) {
			t.Errorf("ValidRole(%q) = false", r)
		}
	}
	for _, r := range []string{"", "root", "Admin", "users", " user"} {
		if ValidRole(r) {
			t.Errorf("ValidRole(%q) = true", r)
		}
	}
}
