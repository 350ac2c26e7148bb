package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// bench runs the phases over the selected paths and collects samples.
type bench struct {
	o   *options
	f   *fixtures
	ssh sshClient
	c   *collector
	log func(format string, args ...any)

	profiled  bool            // the perf profile was taken (only the first PTY run is profiled)
	pprofDone map[string]bool // phases whose Go profiles were taken (-pprof)
}

// order is the paths in run order for repetition rep: the selected order
// rotated by rep, so no path always runs first (A B C D, B C D A, …).
func (b *bench) order(rep int) []*benchPath {
	var out []*benchPath
	for i := range b.o.Paths {
		out = append(out, b.f.paths[b.o.Paths[(i+rep)%len(b.o.Paths)]])
	}
	return out
}

// bulkKind is one of the three streaming metrics.
type bulkKind struct {
	metric, cpuMetric, recMetric string
	tty                          bool
	command                      string
	want                         int64 // exact byte count the client must receive
}

func (b *bench) bulkKinds() []bulkKind {
	t := b.f.text
	return []bulkKind{
		{"bulk_mbps", "cpu_bulk_s_per_gb", "rec_ratio_bulk", false,
			fmt.Sprintf("head -c %d /dev/zero", b.o.BulkBytes), b.o.BulkBytes},
		{"text_mbps", "cpu_text_s_per_gb", "rec_ratio_text", false, "cat " + t.path, t.size},
		// onlcr on the target's PTY turns each "\n" into "\r\n".
		{"pty_mbps", "cpu_pty_s_per_gb", "rec_ratio_pty", true, "cat " + t.path, t.size + t.newlines},
	}
}

// stream runs one streaming measurement on p and records throughput,
// bastion CPU per GB and (with recording on) recorded bytes per byte.
func (b *bench) stream(ctx context.Context, p *benchPath, k bulkKind) error {
	b.settle(p)
	var cpu0 float64
	var rec0 int64
	var err error
	if p.tree != nil {
		if cpu0, err = p.tree.CPU(); err != nil {
			return err
		}
	}
	if p.name == pathRec {
		if rec0, err = dirSize(p.recordings()); err != nil {
			return err
		}
	}
	stopProf := b.startProfile(p, k)
	stopPprof := b.startPprof(p, k.metric[:len(k.metric)-len("_mbps")])
	r, err := b.ssh.stream(ctx, p.alias, k.tty, k.command)
	stopProf()
	stopPprof()
	if err != nil {
		return err
	}
	if r.bytes != k.want {
		return fmt.Errorf("%s: %s received %d bytes, want %d", p.name, k.metric, r.bytes, k.want)
	}
	b.c.add(k.metric, p.name, r.mbps())
	if p.tree != nil {
		time.Sleep(300 * time.Millisecond) // let sshd reap the connection's processes into its child times
		cpu1, err := p.tree.CPU()
		if err != nil {
			return err
		}
		b.c.add(k.cpuMetric, p.name, (cpu1-cpu0)/(float64(r.bytes)/1e9))
	}
	if p.name == pathRec {
		rec1, err := stableDirSize(p.recordings())
		if err != nil {
			return err
		}
		b.c.add(k.recMetric, p.name, float64(rec1-rec0)/float64(r.bytes))
	}
	b.log("  %-10s %-10s %8.1f MB/s", p.name, k.metric, r.mbps())
	return nil
}

// recordings is the bastion's recordings folder.
func (p *benchPath) recordings() string { return filepath.Join(p.bastion.dataDir, "recordings") }

// stableDirSize waits (up to 10 s) until dir's size stops changing for
// 200 ms: the recording is finalized after the client has seen the end.
func stableDirSize(dir string) (int64, error) {
	last := int64(-1)
	for range 50 {
		n, err := dirSize(dir)
		if err != nil {
			return 0, err
		}
		if n == last {
			return n, nil
		}
		last = n
		time.Sleep(200 * time.Millisecond)
	}
	return last, nil
}

// setupSettle is the pause before each setup run: the previous run's
// path may still be finishing in the background (a bastion finalizing a
// recording, the jump and target sshd processes of ProxyJump exiting), and
// that work must not be billed to the path measured next. 50 ms was not
// enough for ProxyJump's teardown: jc-rec, which follows it, measured
// 158 ms against jc-norec's 136 with both reusing 19 of 20 target logins;
// with 200 ms, 140 against 137.
const setupSettle = 200 * time.Millisecond

// setup runs `ssh PATH true` setupRuns times per path, interleaved.
func (b *bench) setup(ctx context.Context, order []*benchPath) error {
	samples := map[string][]float64{}
	if p := b.f.paths[pathRec]; p != nil {
		defer b.startPprof(p, "setup")()
	}
	for range b.o.SetupRuns {
		for _, p := range order {
			time.Sleep(setupSettle)
			d, err := b.ssh.run(ctx, p.alias, "true")
			if err != nil {
				return err
			}
			samples[p.name] = append(samples[p.name], float64(d.Microseconds())/1000)
		}
	}
	for _, p := range order {
		b.c.add("setup_ms", p.name, median(samples[p.name]))
		b.log("  %-10s setup      %8.1f ms", p.name, median(samples[p.name]))
	}
	return nil
}

// echo measures keystroke round trips on every path.
func (b *bench) echo(order []*benchPath) error {
	for _, p := range order {
		stopPprof := b.startPprof(p, "echo")
		rtts, err := echoLatency(p, b.o.EchoCount)
		stopPprof()
		if err != nil {
			return fmt.Errorf("%s: echo: %w", p.name, err)
		}
		p50, p99 := percentile(rtts, 0.50), percentile(rtts, 0.99)
		b.c.add("echo_p50_us", p.name, float64(p50.Nanoseconds())/1000)
		b.c.add("echo_p99_us", p.name, float64(p99.Nanoseconds())/1000)
		b.log("  %-10s echo       p50 %v p99 %v", p.name, p50, p99)
	}
	return nil
}

// settleMax bounds settle's wait.
const settleMax = 5 * time.Minute

// settle waits, up to settleMax, until the bastion of a jumpcast path runs
// no child process: index children (nice 19) making the keyframes of
// recordings that earlier runs closed. Their CPU and memory are the cost of
// those recordings, not of the next run, which would otherwise count them
// or not depending on timing (a 256 MiB PTY recording's child holds about
// 25 MB for half a minute). Each wait is logged and kept (settle_wait_s).
func (b *bench) settle(p *benchPath) {
	if p.tree == nil || p.bastion == nil {
		return
	}
	start := time.Now()
	for {
		kids, err := descendants(p.tree.root)
		if err != nil || len(kids) == 0 {
			break
		}
		if time.Since(start) > settleMax {
			b.log("  %-10s index children still running after %v: measuring with them", p.name, settleMax)
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	w := time.Since(start)
	b.c.add("settle_wait_s", p.name, w.Seconds())
	if w > time.Second {
		b.log("  %-10s waited %.1f s for index children", p.name, w.Seconds())
	}
}

// parallel runs the concurrency measurement on every path.
func (b *bench) parallel(ctx context.Context, order []*benchPath) error {
	cmd := fmt.Sprintf("head -c %d /dev/zero", b.o.ParallelBytes)
	for _, p := range order {
		b.settle(p)
		var s *memSampler
		if p.tree != nil {
			s = sampleMem(p.tree, 200*time.Millisecond)
		}
		stopPprof := b.startPprof(p, "parallel")
		wall, got, err := b.ssh.parallel(ctx, p.alias, cmd, b.o.Parallel)
		stopPprof()
		if s != nil {
			rss, pss, serr := s.Stop()
			if serr == nil && err == nil {
				b.c.add("conc_peak_rss_mb", p.name, float64(rss)/1e6)
				b.c.add("conc_peak_pss_mb", p.name, float64(pss)/1e6)
			}
			if err == nil {
				err = serr
			}
		}
		if err != nil {
			return fmt.Errorf("%s: parallel: %w", p.name, err)
		}
		for i, n := range got {
			if n != b.o.ParallelBytes {
				return fmt.Errorf("%s: parallel session %d received %d bytes, want %d", p.name, i, n, b.o.ParallelBytes)
			}
		}
		b.c.add("conc_wall_s", p.name, wall.Seconds())
		b.log("  %-10s parallel   %8.2f s", p.name, wall.Seconds())
	}
	return nil
}

// idle holds interactive sessions open through every path with a bastion
// and records the bastion's memory growth per session. The figure is a
// slope: a tenth of the sessions are opened first (warming the bastion),
// then the rest, and the growth between the two readings is divided by the
// sessions added, so memory the bastion held before (buffers left from the
// bulk phases, garbage not yet collected) does not count.
func (b *bench) idle(order []*benchPath) error {
	for _, p := range order {
		if p.tree == nil || p.name == pathRelay {
			continue // no bastion, or (the relay) no way to the idle target
		}
		n := b.o.Idle
		if p.name == pathProxyJump {
			n = min(n, b.o.IdleProxyJump) // two sshd processes per session: the slope needs fewer
		}
		first := max(1, n/10)
		start := time.Now()
		warm, err := openIdle(p, first, 8)
		if err != nil {
			return fmt.Errorf("%s: idle sessions: %w", p.name, err)
		}
		time.Sleep(2 * time.Second) // let buffers and the runtime settle
		rss0, pss0, err := p.tree.Mem()
		if err != nil {
			closeAll(warm)
			return err
		}
		rest, err := openIdle(p, n-first, 8)
		if err != nil {
			closeAll(warm)
			return fmt.Errorf("%s: idle sessions: %w", p.name, err)
		}
		time.Sleep(2 * time.Second)
		rss1, pss1, err := p.tree.Mem()
		if err == nil {
			b.startPprof(p, "idle")() // with every session open
		}
		closeAll(append(warm, rest...))
		if err != nil {
			return err
		}
		added := float64(n - first)
		b.c.add("idle_rss_kb", p.name, float64(rss1-rss0)/1e3/added)
		b.c.add("idle_pss_kb", p.name, float64(pss1-pss0)/1e3/added)
		b.log("  %-10s idle       %d sessions in %v: RSS %.1f → %.1f MB, PSS %.1f → %.1f MB", p.name, n,
			time.Since(start).Round(time.Millisecond), float64(rss0)/1e6, float64(rss1)/1e6, float64(pss0)/1e6, float64(pss1)/1e6)
		time.Sleep(2 * time.Second) // let the bastion wind the sessions down before the next path
	}
	return nil
}

// run is the whole measurement: every repetition runs every phase over
// every path before the next repetition starts.
func (b *bench) run(ctx context.Context) error {
	for rep := range b.o.Reps {
		order := b.order(rep)
		b.log("repetition %d/%d", rep+1, b.o.Reps)
		if b.want("setup") {
			if err := b.setup(ctx, order); err != nil {
				return err
			}
		}
		if b.want("echo") {
			if err := b.echo(order); err != nil {
				return err
			}
		}
		for _, k := range b.bulkKinds() {
			if !b.want(k.metric[:len(k.metric)-len("_mbps")]) {
				continue
			}
			for _, p := range order {
				if err := b.stream(ctx, p, k); err != nil {
					return err
				}
			}
		}
		if b.want("parallel") {
			if err := b.parallel(ctx, order); err != nil {
				return err
			}
		}
		if err := b.alive(); err != nil {
			return err
		}
	}
	if b.want("idle") && b.o.Idle > 0 {
		b.log("idle sessions (once per path)")
		if err := b.idle(b.order(0)); err != nil {
			return err
		}
	}
	return b.alive()
}

// want reports whether phase is selected by -only.
func (b *bench) want(phase string) bool {
	if len(b.o.Only) == 0 {
		return true
	}
	return b.o.Only[phase]
}

// alive checks that no bastion has died.
func (b *bench) alive() error {
	for _, p := range b.f.paths {
		if p.bastion != nil {
			if err := p.bastion.alive(); err != nil {
				return fmt.Errorf("%s: %w", p.name, err)
			}
		}
	}
	return nil
}

// logf prints progress to stderr.
func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
}
