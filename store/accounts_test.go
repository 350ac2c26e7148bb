package store

import (
	"context"
	"errors"
	"testing"
)

func TestAccountsAndTokens(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	if err := s.PutAccount(ctx, Account{Name: "eve", Role: "root"}); err == nil {
		t.Error("unknown role accepted")
	}
	if err := s.PutAccount(ctx, Account{Role: RoleAdmin}); err == nil {
		t.Error("empty name accepted")
	}
	for _, a := range []Account{{Name: "carol", Role: RoleAuditor, PasswordHash: "h1"}, {Name: "ann", Role: RoleAdmin, PasswordHash: "h2"}, {Name: "bob", Role: RoleUser, PasswordHash: "h4"}} {
		if err := s.PutAccount(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.PutAccount(ctx, Account{Name: "carol", Role: RoleAdmin, PasswordHash: "h3"}); err != nil {
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
