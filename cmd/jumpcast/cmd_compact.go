package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/jumpcast/jumpcast/internal/bastion"
	"github.com/jumpcast/jumpcast/internal/recording"
	"github.com/jumpcast/jumpcast/recorder/castfile"
)

// compactResult is the outcome of converting one raw recording.
type compactResult struct {
	ID      string `json:"id"`
	Done    bool   `json:"done"`              // converted, index updated, old file removed
	Skipped string `json:"skipped,omitempty"` // why nothing was done (already archived, still recording, in the bucket)
	Path    string `json:"path,omitempty"`
	RawSize int64  `json:"raw_size,omitempty"`
	Size    int64  `json:"size,omitempty"`
}

func newRecExportCmd(g *globalFlags) *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "export ID",
		Short: "Write a recording as a plain asciicast v2 file",
		Long: `Write a recording as a plain asciicast v2 file (asciinema play and cat read it),
whatever its format at rest, to standard output or to --output.`,
		Example: "  jumpcast recordings export 20261124T093012.345678Z-3f9a1c2b -o session.cast",
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withBackend(g, func(b backend) error {
				rc, err := b.Cast(cmd.Context(), args[0], 0)
				if err != nil {
					return err
				}
				defer func() { _ = rc.Close() }()
				w := cmd.OutOrStdout()
				if out != "" {
					f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
					if err != nil {
						return err
					}
					defer func() { _ = f.Close() }()
					w = f
				}
				if _, err := io.Copy(w, rc); err != nil {
					return fmt.Errorf("export %s: %w", args[0], err)
				}
				if f, ok := w.(*os.File); ok && out != "" {
					return f.Close()
				}
				return nil
			})
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", "write to this new file instead of standard output")
	return cmd
}

func newRecCompactCmd(g *globalFlags) *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:   "compact [--all | ID...]",
		Short: "Convert closed recordings to the archived format (.cast.zst)",
		Long: `Convert closed recordings on this node's disk to the archived format: the
asciicast stream as zstd frames compressed at zstd's best level, with the
same index of keyframes, so the player opens and seeks them as before
(zstdcat prints the plain .cast). Sessions record in the faster gzip
format (.cast.gz); archiving makes text-heavy recordings a fifth to a half
smaller again, at 20-30 MB of recording per second of one core. Raw .cast files
(made before the compressed format) are converted too.

Each conversion is checked before the old file is removed: the new file
must decode to a stream with the old one's SHA-256 (and a raw file must
match the index's hash). The index then names the new file with its size
and SHA-256, which "recordings verify" checks. serve does the same by
itself (recording.archive_after); with storage: s3 it archives each
recording before the upload, and this command skips them.`,
		Example: "  jumpcast recordings compact --all\n  jumpcast recordings compact 20261124T093012.345678Z-3f9a1c2b",
		RunE: func(cmd *cobra.Command, args []string) error {
			if all == (len(args) > 0) {
				return usageError{errors.New("give recording ids or --all")}
			}
			return withBackend(g, func(b backend) error {
				return compactRecordings(cmd, b, args)
			})
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "every closed recording not yet archived")
	return cmd
}

func compactRecordings(cmd *cobra.Command, b backend, ids []string) error {
	ctx := cmd.Context()
	if len(ids) == 0 {
		var err error
		ids, err = closedRecordingIDs(ctx, b, func(r recording.Meta) bool {
			return !castfile.Archived(r.Path) && r.Location == recording.LocationNode
		})
		if err != nil {
			return err
		}
	}
	w := cmd.OutOrStdout()
	var failed int
	var before, after int64
	for _, id := range ids {
		res, err := b.Compact(ctx, id)
		switch {
		case err != nil:
			failed++
			fmt.Fprintf(w, "FAILED   %s  %v\n", id, err)
		case res.Done:
			before, after = before+res.RawSize, after+res.Size
			fmt.Fprintf(w, "compact  %s  %d → %d bytes\n", id, res.RawSize, res.Size)
		default:
			fmt.Fprintf(w, "skip     %s  %s\n", id, res.Skipped)
		}
	}
	fmt.Fprintf(w, "%d compacted (%d → %d bytes), %d failed\n", len(ids)-failed, before, after, failed)
	if failed > 0 {
		return fmt.Errorf("%d recording(s) not compacted", failed)
	}
	return nil
}

// Compact brings one recording to the archived format
// (bastion.ArchiveRecording).
func (b *localBackend) Compact(ctx context.Context, id string) (compactResult, error) {
	r, err := b.st.GetRecording(ctx, id)
	if err != nil {
		return compactResult{ID: id}, err
	}
	if b.files != nil && b.files.Bucket != nil {
		// The uploader may be sending this very file to the bucket.
		return compactResult{ID: id, Skipped: "on its way to the shared bucket (storage: s3)"}, nil
	}
	sink := b.audit
	if sink == nil {
		sink = b.st
	}
	a, err := bastion.ArchiveRecording(ctx, b.st, b.dir, sink, *r)
	return compactResult{ID: id, Done: a.Done, Skipped: a.Skipped, Path: a.Path, RawSize: a.WasSize, Size: a.Size}, err
}
