// Command jumpcast-bench is the side-by-side benchmark of issues 6 and 18: on
// loopback it starts its own fixtures — a real OpenSSH sshd as the target,
// a second sshd as the ProxyJump host, an in-process target for idle
// sessions, `jumpcast serve` (recording on) and jumpcast-norec (the same
// proxy with recording off) — and measures every path in one run,
// interleaved, so that the ratios hold on a noisy machine. It prints one
// table and writes the same as JSON under bench/results/.
//
// Run it with `make bench` (see bench/README.md for the flags and how to
// read the table). It is not part of `make test`.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// options are the command-line flags.
type options struct {
	JumpcastBin   string          `json:"jumpcast_bin"`
	NorecBin      string          `json:"norec_bin"`
	RelayBin      string          `json:"relay_bin,omitempty"`
	ABBin         string          `json:"ab_bin,omitempty"` // -ab: a second jumpcast build in the jc-norec column
	Quick         bool            `json:"quick"`
	Reps          int             `json:"reps"`
	BulkBytes     int64           `json:"bulk_bytes"`
	TextBytes     int64           `json:"text_bytes"`
	SetupRuns     int             `json:"setup_runs"`
	EchoCount     int             `json:"echo_count"`
	Parallel      int             `json:"parallel"`
	ParallelBytes int64           `json:"parallel_bytes"`
	Idle          int             `json:"idle"`
	IdleProxyJump int             `json:"idle_proxyjump"`
	Seed          uint64          `json:"seed"`
	Paths         []string        `json:"paths"`
	Only          map[string]bool `json:"only,omitempty"`
	ReuseIdle     string          `json:"reuse_idle,omitempty"` // upstream.reuse_idle of both bastions; "" = the product default
	// UpstreamWindow is upstream.channel_window of both bastions; "" = the
	// product default.
	UpstreamWindow string `json:"upstream_window,omitempty"`
	// Cipher is the cipher every client was pinned to; "" = each client's
	// default (OpenSSH 9.2: chacha20-poly1305@openssh.com).
	Cipher string `json:"cipher,omitempty"`

	outDir       string
	perfOut      string
	pprofDir     string
	pprofSeconds int
	verbose      bool
}

func main() {
	o, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "jumpcast-bench:", err)
		os.Exit(2)
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "jumpcast-bench:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string) (*options, error) {
	fs := flag.NewFlagSet("jumpcast-bench", flag.ContinueOnError)
	o := &options{}
	var bulk, text, par, paths, only string
	fs.StringVar(&o.JumpcastBin, "jumpcast", "bin/jumpcast", "the jumpcast binary (recording on)")
	fs.StringVar(&o.NorecBin, "norec", "bin/jumpcast-norec", "the benchmark-only bastion without recording")
	fs.StringVar(&o.ABBin, "ab", "", "A/B two builds: run this jumpcast build (recording on, `serve`) in the jc-norec column in place of -norec")
	fs.StringVar(&o.RelayBin, "tcprelay", "bin/jumpcast-tcprelay", "the plain TCP relay of the optional tcp-relay path; socat (a relay in C) also works")
	fs.BoolVar(&o.Quick, "quick", false, "about 10× smaller runs: defaults become -bulk 48MiB -text 24MiB -setup 6 -echo 300 -parallel-bytes 2MiB -idle 100 -idle-proxyjump 40")
	fs.IntVar(&o.Reps, "reps", 3, "repetitions (medians are taken over them)")
	fs.StringVar(&bulk, "bulk", "", "bytes per bulk run (default 512MiB)")
	fs.StringVar(&text, "text", "", "bytes of text per text-bulk run (default 256MiB)")
	fs.IntVar(&o.SetupRuns, "setup", 0, "sequential `ssh PATH true` runs per path per repetition (default 20)")
	fs.IntVar(&o.EchoCount, "echo", 0, "keystroke round trips per path per repetition (default 1000)")
	fs.IntVar(&o.Parallel, "parallel", 50, "parallel sessions in the concurrency test")
	fs.StringVar(&par, "parallel-bytes", "", "bytes per parallel session (default 20MiB)")
	fs.IntVar(&o.Idle, "idle", -1, "idle interactive sessions held open per bastion (default 1000; 0 skips)")
	fs.IntVar(&o.IdleProxyJump, "idle-proxyjump", -1, "cap on idle sessions through the ProxyJump sshd (default 200; each costs two sshd processes)")
	fs.Uint64Var(&o.Seed, "seed", 6, "seed of the text stream")
	fs.StringVar(&paths, "paths", strings.Join(allPaths, ","), "paths to measure, comma-separated; tcp-relay (a plain Go TCP relay in front of the target, for echo, bulk and setup) is also known")
	fs.StringVar(&only, "only", "", "phases to run, comma-separated: setup,echo,bulk,text,pty,parallel,idle (default all)")
	fs.StringVar(&o.outDir, "out", "bench/results", "folder for the JSON results")
	fs.StringVar(&o.perfOut, "perf", "", "write a `perf record` profile of jc-rec during the first PTY text run to this file")
	fs.StringVar(&o.pprofDir, "pprof", "", "write Go CPU and heap profiles of jc-rec (from its admin socket) during the first run of each phase to this folder")
	fs.IntVar(&o.pprofSeconds, "pprof-seconds", 5, "length of each -pprof CPU profile; the heap profile is taken when it ends")
	fs.StringVar(&o.ReuseIdle, "reuse-idle", "", "upstream.reuse_idle for both jumpcast paths, e.g. 0s to measure cold setup (default: the product's default)")
	fs.StringVar(&o.Cipher, "cipher", "", "pin every client to this cipher, e.g. "+pinnedCipher+" (default: each client's default, as admins run it)")
	fs.StringVar(&o.UpstreamWindow, "upstream-window", "", "upstream.channel_window for both jumpcast paths, e.g. 512KiB (default: the product's default)")
	fs.BoolVar(&o.verbose, "v", false, "verbose fixture logs")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	scale := func(full, quick int64) int64 {
		if o.Quick {
			return quick
		}
		return full
	}
	var err error
	if o.ReuseIdle != "" {
		if _, err := time.ParseDuration(o.ReuseIdle); err != nil {
			return nil, fmt.Errorf("-reuse-idle: %w", err)
		}
	}
	if o.BulkBytes, err = sizeFlag(bulk, scale(512<<20, 48<<20)); err != nil {
		return nil, fmt.Errorf("-bulk: %w", err)
	}
	if o.TextBytes, err = sizeFlag(text, scale(256<<20, 24<<20)); err != nil {
		return nil, fmt.Errorf("-text: %w", err)
	}
	if o.ParallelBytes, err = sizeFlag(par, scale(20<<20, 2<<20)); err != nil {
		return nil, fmt.Errorf("-parallel-bytes: %w", err)
	}
	if o.SetupRuns == 0 {
		o.SetupRuns = int(scale(20, 6))
	}
	if o.EchoCount == 0 {
		o.EchoCount = int(scale(1000, 300))
	}
	if o.Idle < 0 {
		o.Idle = int(scale(1000, 100))
	}
	if o.IdleProxyJump < 0 {
		o.IdleProxyJump = int(scale(200, 40))
	}
	if o.Reps < 1 {
		return nil, errors.New("-reps must be at least 1")
	}
	o.Paths = strings.Split(paths, ",")
	if only != "" {
		o.Only = map[string]bool{}
		for _, p := range strings.Split(only, ",") {
			o.Only[p] = true
		}
	}
	return o, nil
}

// sizeFlag parses "512M", "20MiB", "1G", "4096"; "" means def.
func sizeFlag(s string, def int64) (int64, error) {
	if s == "" {
		return def, nil
	}
	u := strings.TrimSuffix(strings.TrimSuffix(strings.ToUpper(s), "B"), "I")
	mult := int64(1)
	switch {
	case strings.HasSuffix(u, "K"):
		mult, u = 1<<10, strings.TrimSuffix(u, "K")
	case strings.HasSuffix(u, "M"):
		mult, u = 1<<20, strings.TrimSuffix(u, "M")
	case strings.HasSuffix(u, "G"):
		mult, u = 1<<30, strings.TrimSuffix(u, "G")
	}
	n, err := strconv.ParseInt(u, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("bad size %q", s)
	}
	return n * mult, nil
}

// run starts the fixtures, measures, and reports. Fixtures are stopped on
// return, on SIGINT/SIGTERM, and when one of them fails.
func run(o *options) (err error) {
	tb, err := newFixtureTB(o.verbose)
	if err != nil {
		return err
	}
	defer tb.Close()
	defer func() {
		if r := recover(); r != nil {
			f, ok := r.(fixtureFailure)
			if !ok {
				panic(r)
			}
			err = fmt.Errorf("fixture: %w", f)
		}
	}()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	began := time.Now()
	mach := describeMachine(o.JumpcastBin)
	logf("starting fixtures (%s)", strings.Join(o.Paths, ", "))
	f := startFixtures(tb, o, o.Paths)
	b := &bench{o: o, f: f, ssh: sshClient{config: f.clientCfg}, c: newCollector(), log: logf, pprofDone: map[string]bool{}}
	if err := b.run(ctx); err != nil {
		return err
	}
	b.c.summarize()
	r := &report{
		Date:    began,
		Machine: mach,
		Options: *o,
		Paths:   o.Paths,
		Metrics: b.c.rows,
		Goals:   evaluate(b.c),
		Seconds: time.Since(began).Seconds(),
	}
	printTable(os.Stdout, r)
	p, err := writeJSON(o.outDir, r)
	if err != nil {
		return err
	}
	fmt.Printf("\nresults: %s (%.0f s)\n", p, r.Seconds)
	return nil
}
