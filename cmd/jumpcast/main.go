// Command jumpcast is an SSH jump host that records every terminal session
// as an asciicast file and serves the recordings to auditors.
//
// main is tiny: it builds the command tree (commands.go) and maps errors to
// exit codes. The server itself is the program type in program.go: the
// bastion that internal/bastion wires, and around it the listeners, the
// web site, the admin socket, retention, reload and shutdown.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// Set by the Makefile through -ldflags.
var (
	version = "dev"
	commit  = "unknown"
)

// usageError marks errors in how a command was called: exit status 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := newRootCmd()
	err := root.ExecuteContext(ctx)
	if err == nil {
		return
	}
	fmt.Fprintln(os.Stderr, "jumpcast:", err)
	var ue usageError
	if errors.As(err, &ue) || isCobraUsageError(err) {
		os.Exit(2)
	}
	os.Exit(1)
}
