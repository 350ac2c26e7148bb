package postgres_test

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/jumpcast/jumpcast/internal/audit"
	"github.com/jumpcast/jumpcast/internal/lock"
	"github.com/jumpcast/jumpcast/store"
	"github.com/jumpcast/jumpcast/store/storetest"
)

// Import copies a populated bbolt index: the same pages, the same audit
// ids and credential versions; new ids and versions continue above them;
// a second run copies nothing.
func TestImportFromBbolt(t *testing.T) {
	ctx := context.Background()
	src, err := store.Open(filepath.Join(t.TempDir(), "index.db"), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = src.Close() }()
	rows := storetest.Generate(5, 1200, time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), 5, 5)
	storetest.Insert(t, src, rows)
	carol, err := src.PutAccount(ctx, store.Account{Name: "carol", PasswordHash: "h", Role: store.RoleAdmin})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 { // versions move on in the source
		if _, err := src.PutAccount(ctx, store.Account{Name: "dave", PasswordHash: time.Now().String(), Role: store.RoleUser}); err != nil {
			t.Fatal(err)
		}
	}
	if err := src.PutToken(ctx, store.APIToken{ID: "t1", Hash: "aa", Owner: "carol"}); err != nil {
		t.Fatal(err)
	}
	if err := src.PutSecondFactor(ctx, store.SecondFactor{Account: "carol", TOTPSecret: "JBSWY3DPEHPK3PXP", TOTPLastStep: 7, RecoveryHashes: []string{"r"}}); err != nil {
		t.Fatal(err)
	}
	for i := range 700 {
		if err := src.AppendAudit(ctx, audit.Event{Kind: audit.KindAuth, Who: audit.Who{User: "carol"}, Time: time.Unix(int64(1e9+i), 0)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := src.CreateLock(ctx, lock.Lock{ID: "l1", Target: lock.Target{User: "mallory"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := src.PinHostKey(ctx, store.HostKeyPin{Addr: "db1:22", Key: []byte("k"), Type: "ssh-ed25519"}); err != nil {
		t.Fatal(err)
	}

	dst := open(t)
	counts, err := dst.Import(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"recordings": 1200, "accounts": 2, "api tokens": 1, "second factors": 1, "audit events": 700, "locks": 1, "pinned host keys": 1}
	for _, c := range counts {
		if c.Source != want[c.Kind] || c.Copied != c.Source || c.Present != c.Source {
			t.Errorf("%s: %+v, want %d copied", c.Kind, c, want[c.Kind])
		}
	}
	if f, err := dst.GetSecondFactor(ctx, "carol"); err != nil || f.TOTPSecret != "JBSWY3DPEHPK3PXP" || f.TOTPLastStep != 7 || len(f.RecoveryHashes) != 1 {
		t.Errorf("carol's second factor after the import: %+v, %v", f, err)
	}
	again, err := dst.Import(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range again {
		if c.Copied != 0 || c.Present != c.Source {
			t.Errorf("second run, %s: %+v", c.Kind, c)
		}
	}
	for _, f := range []store.Filter{{}, {Sort: "duration", Asc: true, Limit: 500}, {User: "user001", Text: "syslog"}} {
		if a, b := ids(t, src, f), ids(t, dst, f); !slices.Equal(a, b) {
			t.Errorf("%+v: %d ids in bbolt, %d in PostgreSQL", f, len(a), len(b))
		}
	}
	srcEvents, _, _ := src.ListAudit(ctx, store.AuditFilter{Limit: 5})
	dstEvents, _, _ := dst.ListAudit(ctx, store.AuditFilter{Limit: 5})
	if len(dstEvents) != 5 || dstEvents[0].ID != srcEvents[0].ID || !dstEvents[0].Time.Equal(srcEvents[0].Time) {
		t.Errorf("audit events differ: %+v vs %+v", dstEvents, srcEvents)
	}
	if err := dst.AppendAudit(ctx, audit.Event{Kind: audit.KindAuth}); err != nil {
		t.Fatal(err)
	}
	if evs, _, _ := dst.ListAudit(ctx, store.AuditFilter{Limit: 1}); evs[0].ID <= srcEvents[0].ID {
		t.Errorf("a new event got id %d, not above the imported %d", evs[0].ID, srcEvents[0].ID)
	}
	got, err := dst.GetAccount(ctx, "carol")
	if err != nil || got.CredentialVersion != carol.CredentialVersion {
		t.Errorf("carol's credential version %v (%v), want %d", got, err, carol.CredentialVersion)
	}
	dave, _ := src.GetAccount(ctx, "dave")
	erin, err := dst.PutAccount(ctx, store.Account{Name: "erin", PasswordHash: "h", Role: store.RoleUser})
	if err != nil || erin.CredentialVersion <= dave.CredentialVersion {
		t.Errorf("a new account got version %d, not above the imported %d (%v)", erin.CredentialVersion, dave.CredentialVersion, err)
	}
}

func ids(t *testing.T, ix store.Index, f store.Filter) []string {
	t.Helper()
	var out []string
	for {
		p, err := ix.ListRecordings(context.Background(), f)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range p.Items {
			out = append(out, r.ID)
		}
		if p.Next == "" {
			return out
		}
		f.Cursor = p.Next
	}
}
