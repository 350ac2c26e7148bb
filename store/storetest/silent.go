package storetest

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jumpcast/jumpcast/internal/recording"
	"github.com/jumpcast/jumpcast/store"
)

// liveRow makes an active row of node, started at start.
func liveRow(t *testing.T, ix store.Index, node string, start time.Time) recording.Meta {
	t.Helper()
	r := Generate(uint64(start.Unix()), 1, start, 1, 1)[0]
	r.Start, r.ID = start, recording.NewID(start)
	r.Path, _ = recording.RelPath(r.ID)
	r.Status, r.Node, r.End, r.Duration, r.ExitStatus, r.SHA256, r.FileSize = recording.StatusActive, node, time.Time{}, 0, nil, "", 0
	if err := ix.CreateRecording(context.Background(), &r); err != nil {
		t.Fatal(err)
	}
	return r
}

// testSilentNode: a node whose heartbeat is older than the bound has its
// active recordings marked interrupted, each by exactly one of two nodes
// sweeping at once; other nodes' recordings stay; the owner's start-up
// recovery repairs the marked rows from its files.
func testSilentNode(t *testing.T, ix store.Index) {
	ctx := context.Background()
	if err := ix.RegisterNode(ctx, store.Node{ID: "node-a"}); err != nil {
		t.Fatal(err)
	}
	a1 := liveRow(t, ix, "node-a", base)
	a2 := liveRow(t, ix, "node-a", base.Add(time.Minute))
	b1 := liveRow(t, ix, "node-b", base.Add(2*time.Minute))
	if got, err := ix.InterruptSilentNode(ctx, "node-a", time.Hour); err != nil || len(got) != 0 {
		t.Fatalf("node heard of just now: interrupted %d, %v", len(got), err)
	}
	if got, err := ix.InterruptSilentNode(ctx, "nobody", 0); err != nil || len(got) != 0 {
		t.Fatalf("unregistered node: interrupted %d, %v", len(got), err)
	}
	time.Sleep(2 * time.Millisecond)
	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := ix.InterruptSilentNode(ctx, "node-a", time.Millisecond)
			if err != nil {
				t.Errorf("interrupt: %v", err)
			}
			mu.Lock()
			defer mu.Unlock()
			for _, r := range got {
				seen[r.ID]++
			}
		}()
	}
	wg.Wait()
	if len(seen) != 2 || seen[a1.ID] != 1 || seen[a2.ID] != 1 {
		t.Fatalf("two sweepers returned %v; want each of node-a's rows once", seen)
	}
	for _, id := range []string{a1.ID, a2.ID} {
		got, err := ix.GetRecording(ctx, id)
		if err != nil || got.Status != recording.StatusInterrupted || got.Error != store.SilentNodeError || got.End.Before(got.Start) {
			t.Errorf("marked row: %+v, %v", got, err)
		}
	}
	if got, err := ix.GetRecording(ctx, b1.ID); err != nil || got.Status != recording.StatusActive {
		t.Errorf("node-b's row: %+v, %v", got, err)
	}
	sealed := strings.Repeat("cd", 32)
	if ok, err := ix.SealSilentRecording(ctx, a1.ID, 77, sealed, recording.LocationBucket); err != nil || !ok {
		t.Fatalf("seal a marked row: %v, %v", ok, err)
	}
	if ok, err := ix.SealSilentRecording(ctx, a1.ID, 78, strings.Repeat("ef", 32), recording.LocationBucket); err != nil || ok {
		t.Errorf("sealing twice: %v, %v; want refused", ok, err)
	}
	if ok, err := ix.SealSilentRecording(ctx, b1.ID, 1, sealed, recording.LocationBucket); err != nil || ok {
		t.Errorf("sealing an active row: %v, %v; want refused", ok, err)
	}
	if got, err := ix.GetRecording(ctx, a1.ID); err != nil || got.SHA256 != sealed || got.FileSize != 77 ||
		got.Location != recording.LocationBucket || got.Error != store.SilentNodeError {
		t.Errorf("sealed row: %+v, %v", got, err)
	}
	sum := strings.Repeat("ab", 32)
	n, err := ix.RecoverActive(ctx, "node-a", func(r recording.Meta) (store.Recovered, error) {
		return store.Recovered{End: r.Start.Add(90 * time.Second), FileSize: 123, SHA256: sum}, nil
	})
	if err != nil || n != 2 {
		t.Fatalf("owner's recovery repaired %d, %v; want 2", n, err)
	}
	got, err := ix.GetRecording(ctx, a1.ID)
	if err != nil || got.Status != recording.StatusInterrupted || got.Error != "" || got.SHA256 != sum || got.FileSize != 123 ||
		got.Location != recording.LocationBucket || got.Duration != 90*time.Second {
		t.Errorf("repaired row (the owner's copy wins over the sealed parts): %+v, %v", got, err)
	}
	if n, err := ix.RecoverActive(ctx, "node-a", nil); err != nil || n != 0 {
		t.Errorf("second recovery: %d, %v", n, err)
	}
}
