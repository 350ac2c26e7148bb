package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jumpcast/jumpcast/internal/recording"
	"github.com/jumpcast/jumpcast/store"
)

// testLocation: a finished recording moves to the bucket (the row says so,
// and lists show it, every other field kept); an active one cannot move;
// an absent one is ErrNotFound.
func testLocation(t *testing.T, ix store.Index) {
	ctx := context.Background()
	start := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	live := liveRow(t, ix, "a", start)
	if err := ix.SetRecordingLocation(ctx, live.ID, recording.LocationBucket); !errors.Is(err, store.ErrStillActive) {
		t.Errorf("moving an active recording: %v, want ErrStillActive", err)
	}
	done := liveRow(t, ix, "a", start.Add(time.Minute))
	done.Status, done.End, done.Duration, done.SHA256, done.FileSize = recording.StatusFinished, start.Add(2*time.Minute), time.Minute,
		"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", 1234
	if err := ix.FinishRecording(ctx, &done); err != nil {
		t.Fatal(err)
	}
	if err := ix.SetRecordingLocation(ctx, done.ID, recording.LocationBucket); err != nil {
		t.Fatal(err)
	}
	got, err := ix.GetRecording(ctx, done.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := done
	want.Location = recording.LocationBucket
	sameRecording(t, "moved row", *got, want)
	page, err := ix.ListRecordings(ctx, store.Filter{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range page.Items {
		if wantLoc := map[bool]string{true: recording.LocationBucket}[r.ID == done.ID]; r.Location != wantLoc {
			t.Errorf("listed %s with location %q, want %q", r.ID, r.Location, wantLoc)
		}
	}
	if st, err := ix.Stats(ctx); err != nil || st.TotalFileSize != 1234 {
		t.Errorf("stats after the move: %+v, %v (want the size counted once)", st, err)
	}
	if err := ix.SetRecordingLocation(ctx, recording.NewID(start.Add(time.Hour)), recording.LocationBucket); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("moving an absent recording: %v, want ErrNotFound", err)
	}
}
