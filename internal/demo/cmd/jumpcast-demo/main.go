// Command jumpcast-demo is what `make demo` runs: a throw-away jumpcast in
// front of a local demo target, with a demo auditor, on loopback only. See
// package internal/demo.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/jumpcast/jumpcast/internal/demo"
)

func main() {
	var o demo.Options
	flag.StringVar(&o.Jumpcast, "jumpcast", "bin/jumpcast", "the jumpcast binary to run")
	flag.StringVar(&o.Dir, "dir", "", "demo folder (default: a new temporary folder, deleted at exit)")
	flag.BoolVar(&o.Keep, "keep", false, "keep the temporary folder at exit")
	flag.IntVar(&o.SSHPort, "ssh-port", 2222, "preferred SSH port on 127.0.0.1 (a free one when busy)")
	flag.IntVar(&o.WebPort, "web-port", 8080, "preferred web port on 127.0.0.1 (a free one when busy)")
	flag.BoolVar(&o.HomeKeys, "home-keys", true, "let your ~/.ssh/id_*.pub keys log in too")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "jumpcast-demo: unexpected argument %q\n", flag.Arg(0))
		os.Exit(2)
	}
	o.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := demo.Run(ctx, o, os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "jumpcast-demo: %v\n", err)
		os.Exit(1)
	}
}
