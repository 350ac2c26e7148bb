package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/jumpcast/jumpcast/recorder"
)

// indexKeyframesCmd is the hidden command serve runs as a child process to
// make a closed recording's keyframes (recorder.Dir.IndexInChild): the
// emulation runs outside the bastion, at the lowest priority.
const indexKeyframesCmd = "index-keyframes"

func newIndexKeyframesCmd() *cobra.Command {
	return &cobra.Command{
		Use:    indexKeyframesCmd + " FOLDER RECORDING",
		Short:  "Write a closed recording's keyframes (run by serve; not for people)",
		Hidden: true,
		Args:   cobra.ExactArgs(2),
		RunE: func(_ *cobra.Command, args []string) error {
			// WriteIndex refuses any path that is not a recording's.
			return recorder.IndexChild(args[0], args[1])
		},
	}
}

// keyframeChild returns the command serve runs for a recording's
// keyframes: this very binary (/proc/self/exe on Linux, so a binary
// replaced during an upgrade is not the one run), with one P (the
// emulation is one goroutine) and no inherited descriptors.
func keyframeChild(folder, rel string) *exec.Cmd {
	self := "/proc/self/exe"
	if runtime.GOOS != "linux" {
		if exe, err := os.Executable(); err == nil {
			self = exe
		}
	}
	if abs, err := filepath.Abs(folder); err == nil {
		folder = abs
	}
	cmd := exec.Command(self, indexKeyframesCmd, "--log-level", "error", folder, rel)
	cmd.Env = append(os.Environ(), "GOMAXPROCS=1")
	return cmd
}
