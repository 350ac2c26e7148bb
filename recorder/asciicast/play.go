package asciicast

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"
)

// Play writes r's "o" events to w at their recorded pace, like `asciinema
// play`: speed divides every gap (≤ 0 means 1), and idleLimit, when
// positive, caps each gap (before speed is applied). It returns nil at the
// end of the recording, ctx's error when ctx ends, or the first read or
// write error.
func Play(ctx context.Context, w io.Writer, r *Reader, speed float64, idleLimit time.Duration) error {
	if speed <= 0 {
		speed = 1
	}
	if idleLimit <= 0 && r.Header().IdleTimeLimit > 0 {
		idleLimit = time.Duration(r.Header().IdleTimeLimit * float64(time.Second))
	}
	timer := time.NewTimer(0)
	defer timer.Stop()
	<-timer.C
	start := time.Now()
	var virtual time.Duration // playback position, after idle capping and speed
	var prev float64
	for {
		ev, err := r.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		gap := time.Duration((ev.Time - prev) * float64(time.Second))
		prev = ev.Time
		if gap < 0 {
			gap = 0
		}
		if idleLimit > 0 && gap > idleLimit {
			gap = idleLimit
		}
		virtual += time.Duration(float64(gap) / speed)
		if ev.Code != CodeOutput {
			continue
		}
		if wait := virtual - time.Since(start); wait > 0 {
			timer.Reset(wait)
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-timer.C:
			}
		} else if err := ctx.Err(); err != nil {
			return err
		}
		if _, err := io.WriteString(w, ev.Data); err != nil {
			return fmt.Errorf("play: %w", err)
		}
	}
}
