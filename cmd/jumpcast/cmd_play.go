package main

import (
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/jumpcast/jumpcast/internal/recording"
	"github.com/jumpcast/jumpcast/recorder/asciicast"
)

func newPlayCmd(g *globalFlags) *cobra.Command {
	var speed float64
	var idle time.Duration
	cmd := &cobra.Command{
		Use:   "play ID|FILE",
		Short: "Play a recording in this terminal",
		Long: `Play a recording in this terminal, like asciinema play. The argument is a
recording id (looked up in the index) or the path of a .cast file.`,
		Example: "  jumpcast play 20261124T093012.345678Z-3f9a1c2b --speed 2 --idle-limit 1s\n  jumpcast play session.cast",
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			play := func(rc io.ReadCloser) error {
				defer func() { _ = rc.Close() }()
				r, err := asciicast.NewReader(rc)
				if err != nil {
					return err
				}
				return asciicast.Play(cmd.Context(), cmd.OutOrStdout(), r, speed, idle)
			}
			if !recording.ValidID(args[0]) {
				f, err := os.Open(args[0])
				if err != nil {
					return err
				}
				return play(f)
			}
			return withBackend(g, func(b backend) error {
				rc, err := b.Cast(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				return play(rc)
			})
		},
	}
	cmd.Flags().Float64Var(&speed, "speed", 1, "playback speed factor")
	cmd.Flags().DurationVar(&idle, "idle-limit", 2*time.Second, "cap pauses at this length (0: keep them)")
	return cmd
}
