// Command jumpcast is an SSH jump host that records every terminal session
// as an asciicast file and serves the recordings to auditors.
package main

import (
	"fmt"
	"os"
)

// Set by the Makefile through -ldflags.
var (
	version = "dev"
	commit  = "unknown"
)

func main() {
	fmt.Fprintf(os.Stderr, "jumpcast %s (%s): under construction\n", version, commit)
	os.Exit(2)
}
