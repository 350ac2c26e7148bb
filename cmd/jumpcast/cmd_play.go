package main

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/jumpcast/jumpcast/internal/recording"
	"github.com/jumpcast/jumpcast/recorder/asciicast"
)

// errRawToTerminal refuses --raw when stdout is a terminal: that is the
// one place where the recording's sequences would act on the auditor.
var errRawToTerminal = errors.New("play --raw writes a recording's terminal sequences unfiltered: send it to a file or a pipe, not to this terminal")

func newPlayCmd(g *globalFlags) *cobra.Command {
	var speed float64
	var idle time.Duration
	var raw bool
	var fromFlag string
	cmd := &cobra.Command{
		Use:   "play ID|FILE",
		Short: "Play a recording in this terminal",
		Long: `Play a recording in this terminal, like asciinema play. The argument is a
recording id (looked up in the index) or the path of a .cast file.

What the recorded session wrote could act on your terminal, not only draw on
it: set your clipboard (OSC 52) or window title, or ask your terminal a
question (cursor position, device attributes, DECRQSS …) whose answer your
terminal types into your shell after playback. So play passes on what draws
the screen (text, colours, cursor moves, erase, scroll regions, the
alternate screen, bracketed paste …) and drops clipboard, title, hyperlink
and other OSC sequences, DCS/APC/PM/SOS strings, every query, mouse, focus
and keyboard-mode switches and C1 controls; it says on stderr how many it
dropped.

It filters whether or not its output is a terminal: a pipe or a file often
ends up on one (| cat, | less -r, cat out.txt). --raw writes the recording's
bytes unchanged, for a file or a pipe that you know is not a terminal; it
is refused when the output is one. The .cast itself (download, export) is
never filtered.

--from starts at a moment of a recording (1h02m, 75s, 1:02:03): the screen
as it was then appears at once, painted from the keyframe before it, and
playback goes on from there.`,
		Example: "  jumpcast play 20261124T093012.345678Z-3f9a1c2b --speed 2 --idle-limit 1s\n  jumpcast play 20261124T093012.345678Z-3f9a1c2b --from 1h02m\n  jumpcast play session.cast\n  jumpcast play --raw session.cast > session.txt",
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			out := cmd.OutOrStdout()
			if raw && isTerminal(out) {
				return usageError{errRawToTerminal}
			}
			from, err := parseFrom(fromFlag)
			if err != nil {
				return usageError{err}
			}
			play := func(rc io.ReadCloser) error {
				defer func() { _ = rc.Close() }()
				r, err := asciicast.NewReader(rc)
				if err != nil {
					return err
				}
				if raw {
					return asciicast.Play(cmd.Context(), out, r, speed, idle)
				}
				return playSanitized(cmd, out, r, speed, idle)
			}
			if !recording.ValidID(args[0]) {
				if from > 0 {
					return usageError{errors.New("--from needs a recording id")}
				}
				f, err := os.Open(args[0])
				if err != nil {
					return err
				}
				return play(f)
			}
			return withBackend(g, func(b backend) error {
				rc, err := b.Cast(cmd.Context(), args[0], from)
				if err != nil {
					return err
				}
				return play(rc)
			})
		},
	}
	cmd.Flags().Float64Var(&speed, "speed", 1, "playback speed factor")
	cmd.Flags().DurationVar(&idle, "idle-limit", 2*time.Second, "cap pauses at this length (0: keep them)")
	cmd.Flags().StringVar(&fromFlag, "from", "", "start at this moment of the recording (1h02m, 75s, 1:02:03)")
	cmd.Flags().BoolVar(&raw, "raw", false, "write every byte as recorded, control sequences included (not to a terminal)")
	return cmd
}

// playSanitized plays r through an asciicast.Sanitizer and says on stderr
// how many sequences it dropped, also when playback was cut short.
func playSanitized(cmd *cobra.Command, out io.Writer, r *asciicast.Reader, speed float64, idle time.Duration) error {
	s := asciicast.NewSanitizer(out)
	err := asciicast.Play(cmd.Context(), s, r, speed, idle)
	if cerr := s.Close(); err == nil {
		err = cerr
	}
	if n := s.Dropped(); n > 0 {
		fmt.Fprintf(cmd.ErrOrStderr(), "jumpcast: dropped %d %s that act outside the screen (clipboard, title, queries …)\n",
			n, plural(n, "sequence", "sequences"))
	}
	return err
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// parseFrom reads a moment of a recording, in seconds: a Go duration
// (1h02m, 75s), seconds (75.5) or a clock (1:02:03, 02:03). "" is 0.
func parseFrom(s string) (float64, error) {
	if s == "" {
		return 0, nil
	}
	bad := fmt.Errorf("--from %q: want a duration like 1h02m, seconds, or h:mm:ss", s)
	if d, err := time.ParseDuration(s); err == nil {
		if d < 0 {
			return 0, bad
		}
		return d.Seconds(), nil
	}
	var sec float64
	for part := range strings.SplitSeq(s, ":") {
		n, err := strconv.ParseFloat(part, 64)
		if err != nil || !(n >= 0) || math.IsInf(n, 0) {
			return 0, bad
		}
		sec = sec*60 + n
	}
	return sec, nil
}
