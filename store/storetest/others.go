package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jumpcast/jumpcast/internal/audit"
	"github.com/jumpcast/jumpcast/internal/lock"
	"github.com/jumpcast/jumpcast/store"
)

func testAccounts(t *testing.T, ix store.Index) {
	ctx := context.Background()
	if _, err := ix.PutAccount(ctx, store.Account{Name: "x", PasswordHash: "h", Role: "root"}); err == nil {
		t.Error("an unknown role was accepted")
	}
	if _, err := ix.PutAccount(ctx, store.Account{PasswordHash: "h", Role: store.RoleAdmin}); err == nil {
		t.Error("an empty name was accepted")
	}
	carol, err := ix.PutAccount(ctx, store.Account{Name: "carol", PasswordHash: "h1", Role: store.RoleAdmin, CredentialVersion: 999})
	if err != nil || carol.CredentialVersion == 0 || carol.CredentialVersion == 999 || carol.Created.IsZero() {
		t.Fatalf("new account: %+v, %v", carol, err)
	}
	same, err := ix.PutAccount(ctx, carol)
	if err != nil || same.CredentialVersion != carol.CredentialVersion {
		t.Errorf("unchanged account got version %d, want %d (%v)", same.CredentialVersion, carol.CredentialVersion, err)
	}
	seen := map[uint64]bool{carol.CredentialVersion: true}
	for _, change := range []store.Account{
		{Name: "carol", PasswordHash: "h2", Role: store.RoleAdmin},
		{Name: "carol", PasswordHash: "h2", Role: store.RoleAuditor},
		{Name: "dave", PasswordHash: "h", Role: store.RoleUser},
	} {
		a, err := ix.PutAccount(ctx, change)
		if err != nil || seen[a.CredentialVersion] || a.CredentialVersion == 0 {
			t.Errorf("change %+v: version %d reused or zero (%v)", change, a.CredentialVersion, err)
		}
		seen[a.CredentialVersion] = true
	}
	got, err := ix.GetAccount(ctx, "carol")
	if err != nil || got.Role != store.RoleAuditor || got.PasswordHash != "h2" {
		t.Errorf("get: %+v, %v", got, err)
	}
	if err := ix.PutToken(ctx, store.APIToken{ID: "t1", Hash: "aa", Owner: "carol", Name: "ci"}); err != nil {
		t.Fatal(err)
	}
	if err := ix.PutToken(ctx, store.APIToken{ID: "t2", Hash: "bb", Owner: "dave", Name: "ci"}); err != nil {
		t.Fatal(err)
	}
	if err := ix.DeleteAccount(ctx, "carol"); err != nil {
		t.Fatal(err)
	}
	if _, err := ix.TokenByHash(ctx, "aa"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a deleted account's token still works: %v", err)
	}
	if _, err := ix.TokenByHash(ctx, "bb"); err != nil {
		t.Errorf("another account's token went with it: %v", err)
	}
	if err := ix.DeleteAccount(ctx, "carol"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second delete: %v", err)
	}
	again, err := ix.PutAccount(ctx, store.Account{Name: "carol", PasswordHash: "h1", Role: store.RoleAdmin})
	if err != nil || seen[again.CredentialVersion] {
		t.Errorf("re-created account got an old version %d (%v)", again.CredentialVersion, err)
	}
	if _, err := ix.PutAccount(ctx, store.Account{Name: "Bob", PasswordHash: "h", Role: store.RoleUser}); err != nil {
		t.Fatal(err)
	}
	list, err := ix.ListAccounts(ctx)
	var names []string
	for _, a := range list {
		names = append(names, a.Name)
	}
	if err != nil || !slices.Equal(names, []string{"Bob", "carol", "dave"}) {
		t.Errorf("list: %v, %v", names, err)
	}
	if _, err := ix.GetAccount(ctx, "nobody"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("missing account: %v", err)
	}
}

func testTokens(t *testing.T, ix store.Index) {
	ctx := context.Background()
	if err := ix.PutToken(ctx, store.APIToken{ID: "", Hash: "x"}); err == nil {
		t.Error("empty id accepted")
	}
	for _, tok := range []store.APIToken{{ID: "b", Hash: "h2", Owner: "o"}, {ID: "a", Hash: "h1", Owner: "o"}} {
		if err := ix.PutToken(ctx, tok); err != nil {
			t.Fatal(err)
		}
	}
	if err := ix.PutToken(ctx, store.APIToken{ID: "c", Hash: "h1"}); err == nil {
		t.Error("a second token with the same hash was accepted")
	}
	// Replacing a token's hash frees the old one.
	if err := ix.PutToken(ctx, store.APIToken{ID: "a", Hash: "h3", Owner: "o"}); err != nil {
		t.Fatal(err)
	}
	if _, err := ix.TokenByHash(ctx, "h1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("old hash still finds a token: %v", err)
	}
	if tok, err := ix.TokenByHash(ctx, "h3"); err != nil || tok.ID != "a" || tok.Created.IsZero() {
		t.Errorf("by hash: %+v, %v", tok, err)
	}
	list, err := ix.ListTokens(ctx)
	if err != nil || len(list) != 2 || list[0].ID != "a" || list[1].ID != "b" {
		t.Errorf("list: %+v, %v", list, err)
	}
	if err := ix.DeleteToken(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if err := ix.DeleteToken(ctx, "a"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second delete: %v", err)
	}
}

func testAudit(t *testing.T, ix store.Index) {
	ctx := context.Background()
	users := []string{"alice", "bob", ""}
	kinds := []audit.Kind{audit.KindAuth, audit.KindSession, audit.KindPolicy}
	var all []audit.Event
	for i := range 90 {
		ev := audit.Event{Kind: kinds[i%3], Outcome: audit.OutcomeOK, Who: audit.Who{User: users[i%3], RemoteAddr: "192.0.2.1:1"},
			Time:   base.Add(time.Duration(i/2) * time.Second), // pairs share a time: ties go by id
			Detail: map[audit.DetailKey]string{"n": fmt.Sprint(i)}}
		if i%7 == 0 {
			ev.User = users[(i/7)%3]
		}
		if err := ix.AppendAudit(ctx, ev); err != nil {
			t.Fatal(err)
		}
		all = append(all, ev)
	}
	if err := ix.AppendAudit(ctx, audit.Event{Kind: audit.KindAuth}); err != nil { // zero time: now
		t.Fatal(err)
	}
	evs, _, err := ix.ListAudit(ctx, store.AuditFilter{Limit: 1})
	if err != nil || len(evs) != 1 || time.Since(evs[0].Time) > time.Minute {
		t.Fatalf("newest event: %+v, %v", evs, err)
	}
	newest := evs[0].ID
	for _, f := range []store.AuditFilter{
		{}, {User: "alice"}, {Kind: audit.KindSession}, {User: "bob", Kind: audit.KindPolicy},
		{Since: base.Add(10 * time.Second), Until: base.Add(30 * time.Second)}, {User: "nobody"},
	} {
		for _, limit := range []int{0, 4} {
			f.Limit = limit
			var got []string
			var lastID uint64
			for pages := 0; ; pages++ {
				evs, next, err := ix.ListAudit(ctx, f)
				if err != nil || pages > 100 {
					t.Fatalf("%+v: %v after %d pages", f, err, pages)
				}
				for _, ev := range evs {
					if ev.ID == newest {
						continue
					}
					if ev.ID == 0 || lastID != 0 && ev.ID >= lastID {
						t.Errorf("%+v: ids not decreasing: %d after %d", f, ev.ID, lastID)
					}
					lastID = ev.ID
					got = append(got, ev.Detail["n"])
				}
				if next == "" {
					break
				}
				f.Cursor = next
			}
			f.Cursor = ""
			var want []string
			for i := len(all) - 1; i >= 0; i-- {
				ev := all[i]
				if (f.User == "" || ev.User == f.User) && (f.Kind == "" || ev.Kind == f.Kind) &&
					(f.Since.IsZero() || !ev.Time.Before(f.Since)) && (f.Until.IsZero() || ev.Time.Before(f.Until)) {
					want = append(want, ev.Detail["n"])
				}
			}
			if !slices.Equal(got, want) {
				t.Errorf("%+v: got %v, want %v", f, got, want)
			}
		}
	}
	if _, _, err := ix.ListAudit(ctx, store.AuditFilter{Cursor: "bogus"}); !errors.Is(err, store.ErrInvalidFilter) {
		t.Errorf("bad cursor: %v", err)
	}
}

func testLocks(t *testing.T, ix store.Index) {
	ctx := context.Background()
	t0 := base
	l1 := lock.Lock{ID: "b1", Target: lock.Target{User: "mallory"}, Reason: "left", Created: t0.Add(time.Second), CreatedBy: "admin carol"}
	l2 := lock.Lock{ID: "a2", Target: lock.Target{Target: "db1"}, Created: t0.Add(time.Second), Expires: t0.Add(time.Hour)}
	l3 := lock.Lock{ID: "c3", Target: lock.Target{Key: "SHA256:nThbg6kXUpJWGl7E1IGOCspRomTxdCARLviKw6E5SY8"}, Created: t0}
	for _, l := range []lock.Lock{l1, l2, l3} {
		if err := ix.CreateLock(ctx, l); err != nil {
			t.Fatal(err)
		}
	}
	if err := ix.CreateLock(ctx, l1); !errors.Is(err, store.ErrExists) {
		t.Errorf("duplicate id: %v, want ErrExists", err)
	}
	if err := ix.CreateLock(ctx, lock.Lock{ID: "x"}); err == nil {
		t.Error("an invalid lock was accepted")
	}
	list, err := ix.ListLocks(ctx)
	var got []string
	for _, l := range list {
		got = append(got, l.ID)
	}
	if err != nil || !slices.Equal(got, []string{"c3", "a2", "b1"}) {
		t.Errorf("list order %v, %v; want oldest first, ties by id", got, err)
	}
	if !list[1].Expires.Equal(l2.Expires) || list[2].Reason != "left" {
		t.Errorf("round trip: %+v", list)
	}
	del, err := ix.DeleteLock(ctx, "b1")
	if err != nil || del.Target.User != "mallory" {
		t.Errorf("delete: %+v, %v", del, err)
	}
	if _, err := ix.DeleteLock(ctx, "b1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second delete: %v", err)
	}
}

// testHostKeyPins checks insert-if-absent, including many nodes pinning
// the same address at once with different keys: one key wins, and every
// caller is told which.
func testHostKeyPins(t *testing.T, ix store.Index) {
	ctx := context.Background()
	p := store.HostKeyPin{Addr: "db1:22", Key: []byte("key-one"), Type: "ssh-ed25519"}
	got, err := ix.PinHostKey(ctx, p)
	if err != nil || string(got.Key) != "key-one" || got.Created.IsZero() {
		t.Fatalf("first pin: %+v, %v", got, err)
	}
	if _, err := ix.PinHostKey(ctx, p); err != nil {
		t.Errorf("pinning the same key again: %v", err)
	}
	other := p
	other.Key = []byte("key-two")
	got, err = ix.PinHostKey(ctx, other)
	if !errors.Is(err, store.ErrPinConflict) || string(got.Key) != "key-one" {
		t.Errorf("conflicting pin: %+v, %v; want the first key and ErrPinConflict", got, err)
	}
	if _, err := ix.PinHostKey(ctx, store.HostKeyPin{Addr: "x:22"}); err == nil {
		t.Error("an empty key was accepted")
	}
	if got, err := ix.HostKeyPin(ctx, "db1:22"); err != nil || string(got.Key) != "key-one" || got.Type != "ssh-ed25519" {
		t.Errorf("HostKeyPin: %+v, %v", got, err)
	}
	if _, err := ix.HostKeyPin(ctx, "db2:22"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("HostKeyPin of an unpinned address: %v, want ErrNotFound", err)
	}
	// Forgetting a pin lets the next key be pinned.
	if del, err := ix.DeleteHostKeyPin(ctx, "db1:22"); err != nil || string(del.Key) != "key-one" {
		t.Errorf("DeleteHostKeyPin: %+v, %v", del, err)
	}
	if _, err := ix.DeleteHostKeyPin(ctx, "db1:22"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second DeleteHostKeyPin: %v, want ErrNotFound", err)
	}
	if got, err := ix.PinHostKey(ctx, other); err != nil || string(got.Key) != "key-two" {
		t.Errorf("pin after forgetting: %+v, %v", got, err)
	}
	var wg sync.WaitGroup
	winners := make(chan string, 8)
	for i := range 8 {
		wg.Go(func() {
			got, err := ix.PinHostKey(ctx, store.HostKeyPin{Addr: "[2001:db8::1]:22", Key: fmt.Appendf(nil, "k%d", i), Type: "ssh-rsa"})
			if err != nil && !errors.Is(err, store.ErrPinConflict) {
				t.Errorf("racing pin: %v", err)
				return
			}
			if (err == nil) != (string(got.Key) == fmt.Sprintf("k%d", i)) {
				t.Errorf("racing pin %d: got %q with error %v", i, got.Key, err)
			}
			winners <- string(got.Key)
		})
	}
	wg.Wait()
	close(winners)
	var keys []string
	for k := range winners {
		keys = append(keys, k)
	}
	if len(keys) != 8 || len(slices.Compact(slices.Sorted(slices.Values(keys)))) != 1 {
		t.Errorf("racing pins disagree on the key: %v", keys)
	}
	pins, err := ix.HostKeyPins(ctx)
	if err != nil || len(pins) != 2 || pins[0].Addr != "[2001:db8::1]:22" || pins[1].Addr != "db1:22" {
		t.Errorf("list: %+v, %v", pins, err)
	}
}

func testNodes(t *testing.T, ix store.Index) {
	ctx := context.Background()
	before := time.Now().Add(-time.Minute)
	keys := []string{"SHA256:2b4Qk0h5e3qDlZ6m7n8o9p0q1r2s3t4u5v6w7x8y9z0", "SHA256:AAAAqDlZ6m7n8o9p0q1r2s3t4u5v6w7x8y9z0abcdef"}
	for _, n := range []store.Node{{ID: "node-b", Addr: "10.0.0.2:7000", Version: "1.0"}, {ID: "node-a", Addr: "10.0.0.1:7000", Version: "1.0", HostKeys: keys}} {
		if err := ix.RegisterNode(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	if err := ix.RegisterNode(ctx, store.Node{}); err == nil {
		t.Error("an empty id was accepted")
	}
	nodes, err := ix.ListNodes(ctx)
	if err != nil || len(nodes) != 2 || nodes[0].ID != "node-a" || nodes[1].Addr != "10.0.0.2:7000" {
		t.Fatalf("list: %+v, %v", nodes, err)
	}
	if !slices.Equal(nodes[0].HostKeys, keys) || nodes[1].HostKeys != nil {
		t.Errorf("host keys: %q and %q, want %q and none", nodes[0].HostKeys, nodes[1].HostKeys, keys)
	}
	hb := nodes[0].Heartbeat
	if hb.Before(before) || nodes[0].Started.IsZero() {
		t.Errorf("registered with heartbeat %v, started %v", hb, nodes[0].Started)
	}
	time.Sleep(10 * time.Millisecond)
	if err := ix.NodeHeartbeat(ctx, "node-a"); err != nil {
		t.Fatal(err)
	}
	if err := ix.NodeHeartbeat(ctx, "node-z"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("heartbeat of an unknown node: %v", err)
	}
	nodes, err = ix.ListNodes(ctx)
	if err != nil || !nodes[0].Heartbeat.After(hb) {
		t.Errorf("heartbeat did not move: %v → %+v (%v)", hb, nodes, err)
	}
	if err := ix.RegisterNode(ctx, store.Node{ID: "node-a", Addr: "10.0.0.9:7000", Version: "1.1"}); err != nil {
		t.Fatal(err)
	}
	if nodes, _ = ix.ListNodes(ctx); nodes[0].Version != "1.1" || nodes[0].Addr != "10.0.0.9:7000" {
		t.Errorf("re-register: %+v", nodes[0])
	}
}
