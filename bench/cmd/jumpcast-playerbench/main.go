// Command jumpcast-playerbench measures the web player in a real Chromium,
// side by side in one run: this tree's page (xterm.js fed by the index and
// chunk routes) and the baseline build's whole-file page (asciinema-player
// fed the whole cast), on the same generated recordings (10 MB and 2 GB of
// output by default). For each page and recording it reports the time from
// navigation start to the first screen, the p50 and p99 of random seeks
// (each until its screen is drawn), and the page's JS heap. `make
// bench-player` builds everything and runs it; see bench/README.md.
package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	gossh "golang.org/x/crypto/ssh"
)

type options struct {
	Jumpcast     string        // this tree's binary
	Baseline     string        // the whole-file player's binary; "" skips it
	Seed         string        // jumpcast-seedcast built from this tree
	SeedBaseline string        // jumpcast-seedcast built from the baseline's tree
	Convert      string        // jumpcast subcommand run on this tree's data folder after seeding ("" none)
	Sizes        string        // output sizes, e.g. "10MB,2GB"
	Rate         float64       // output bytes per second of recording time
	Seeks        int           // random seeks per page
	Chromium     string        // the browser
	PageTimeout  time.Duration // how long a page may take to show its first screen
	Cache        string        // generated casts are kept here between runs
	Out          string        // results folder
	GenerateOnly bool          // write the casts into Cache and stop
	Pages        string        // which pages to measure: "whole-file,chunked"
	KeyframeWait time.Duration // how long to wait for the server's keyframes before measuring the chunked page again (0: not)
	work         string
}

func (o *options) tmp(name string) string { return filepath.Join(o.work, name) }

func main() {
	o := &options{}
	flag.StringVar(&o.Jumpcast, "jumpcast", "bin/jumpcast", "this tree's jumpcast binary")
	flag.StringVar(&o.Baseline, "baseline", "bin/jumpcast-baseline", "the baseline jumpcast binary (whole-file player)")
	flag.StringVar(&o.Seed, "seed", "bin/jumpcast-seedcast", "jumpcast-seedcast built from this tree")
	flag.StringVar(&o.SeedBaseline, "seed-baseline", "bin/jumpcast-seedcast-baseline", "jumpcast-seedcast built from the baseline's tree")
	flag.StringVar(&o.Convert, "convert", "recordings compact --all", "jumpcast subcommand (space-separated) that turns this tree's seeded raw casts into its stored format, run with -c CONFIG; skipped when the binary lacks it")
	flag.StringVar(&o.Sizes, "sizes", "10MB,2GB", "output sizes of the generated recordings")
	flag.Float64Var(&o.Rate, "rate", 200<<10, "output bytes per second of recording time")
	flag.IntVar(&o.Seeks, "seeks", 20, "random seeks per page")
	flag.StringVar(&o.Chromium, "chromium", "/usr/bin/chromium", "Chromium")
	flag.DurationVar(&o.PageTimeout, "page-timeout", 3*time.Minute, "how long a page may take to show its first screen")
	flag.StringVar(&o.Cache, "cache", filepath.Join(os.TempDir(), "jumpcast-playerbench-casts"), "where generated casts are kept between runs")
	flag.StringVar(&o.Out, "out", "bench/results", "results folder")
	flag.StringVar(&o.Pages, "pages", "whole-file,chunked", "the pages to measure, in order")
	flag.DurationVar(&o.KeyframeWait, "keyframes-wait", 10*time.Minute, "after the chunked page's run (its recordings just compacted, without keyframes), wait this long for the server's background indexer, restart the server and measure again as \"chunked+kf\"; 0 skips it")
	flag.BoolVar(&o.GenerateOnly, "generate-only", false, "only write the recordings into -cache")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "jumpcast-playerbench:", err)
		os.Exit(1)
	}
}

type report struct {
	When    time.Time    `json:"when"`
	Machine machineInfo  `json:"machine"`
	Rate    float64      `json:"rate_bytes_per_s"`
	Stored  []storedSize `json:"stored"`
	Pages   []pageResult `json:"pages"`
}

type storedSize struct {
	Page     string `json:"page"`
	OutBytes int64  `json:"out_bytes"`
	Bytes    int64  `json:"bytes_on_disk"`
}

func run(o *options) error {
	work, err := os.MkdirTemp("", "jumpcast-playerbench-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(work) }()
	o.work = work
	sizes, err := parseSizes(o.Sizes)
	if err != nil {
		return err
	}
	casts, err := generate(o, sizes)
	if err != nil || o.GenerateOnly {
		return err
	}
	rep := report{When: time.Now().UTC(), Machine: describeMachine(o.Chromium), Rate: o.Rate}
	type variant struct{ page, bin, seed, convert string }
	all := map[string]variant{
		"whole-file": {"whole-file", o.Baseline, o.SeedBaseline, ""},
		"chunked":    {"chunked", o.Jumpcast, o.Seed, o.Convert},
	}
	for _, name := range strings.Split(o.Pages, ",") {
		v, ok := all[strings.TrimSpace(name)]
		if !ok || v.bin == "" {
			return fmt.Errorf("-pages: %q is not whole-file or chunked (with its binary set)", name)
		}
		res, stored, err := runVariant(o, v.page, v.bin, v.seed, v.convert, casts, sizes)
		if err != nil {
			return fmt.Errorf("%s page: %w", v.page, err)
		}
		rep.Pages = append(rep.Pages, res...)
		rep.Stored = append(rep.Stored, stored...)
	}
	printReport(rep)
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return err
	}
	data, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	p := filepath.Join(o.Out, "player-"+rep.When.Format("20060102T150405Z")+".json")
	fmt.Println("results:", p)
	return os.WriteFile(p, append(data, '\n'), 0o644)
}

func parseSizes(s string) ([]int64, error) {
	var out []int64
	for _, f := range strings.Split(s, ",") {
		f = strings.ToUpper(strings.TrimSpace(f))
		mult := int64(1)
		for suffix, m := range map[string]int64{"KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30} {
			if strings.HasSuffix(f, suffix) {
				f, mult = strings.TrimSuffix(f, suffix), m
			}
		}
		n, err := strconv.ParseFloat(f, 64)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("size %q: want e.g. 10MB or 2GB", s)
		}
		out = append(out, int64(n*float64(mult)))
	}
	return out, nil
}

// sizeName writes n bytes as the flags do: "10MB", "2GB", "1.3MB".
func sizeName(n int64) string {
	unit, name := float64(1<<20), "MB"
	if n >= 1<<30 {
		unit, name = 1<<30, "GB"
	}
	v := float64(n) / unit
	if v == float64(int64(v)) {
		return strconv.FormatInt(int64(v), 10) + name
	}
	return strconv.FormatFloat(v, 'f', 1, 64) + name
}

// generate writes (or finds in the cache) one cast per size.
func generate(o *options, sizes []int64) ([]string, error) {
	if err := os.MkdirAll(o.Cache, 0o700); err != nil {
		return nil, err
	}
	var out []string
	for i, n := range sizes {
		p := filepath.Join(o.Cache, fmt.Sprintf("bench-%s-r%.0f.cast", sizeName(n), o.Rate))
		if _, err := os.Stat(p); err != nil {
			start := time.Now()
			fmt.Printf("generating %s of output into %s…\n", sizeName(n), p)
			if err := genCast(p+".tmp", n, o.Rate, uint64(i+1)); err != nil {
				return nil, err
			}
			if err := os.Rename(p+".tmp", p); err != nil {
				return nil, err
			}
			fmt.Printf("  %s\n", time.Since(start).Round(time.Second))
		}
		out = append(out, p)
	}
	return out, nil
}

// runVariant seeds a fresh data folder for bin with the casts, starts
// `bin serve`, and measures each recording's page.
func runVariant(o *options, page, bin, seed, convert string, casts []string, sizes []int64) ([]pageResult, []storedSize, error) {
	data := o.tmp(page + "-data")
	cfg, web, err := writeConfig(o, page, data)
	if err != nil {
		return nil, nil, err
	}
	fmt.Printf("%s: seeding %d recordings…\n", page, len(casts))
	out, err := exec.Command(seed, append([]string{"-data", data}, casts...)...).Output()
	if err != nil {
		return nil, nil, fmt.Errorf("seed: %w", exitDetail(err))
	}
	ids := strings.Fields(string(out))
	if len(ids) != len(casts) {
		return nil, nil, fmt.Errorf("seed printed %q", out)
	}
	if convert != "" && !hasCommand(bin, convert) {
		fmt.Printf("  %s lacks %q: its recordings stay raw\n", bin, convert)
		convert = ""
	}
	if convert != "" {
		start := time.Now()
		cmd := exec.Command(bin, append(strings.Fields(convert), "-c", cfg)...)
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if err := cmd.Run(); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", convert, err)
		}
		fmt.Printf("  %s: %s\n", convert, time.Since(start).Round(time.Second))
	}
	var stored []storedSize
	for i := range casts {
		stored = append(stored, storedSize{Page: page, OutBytes: sizes[i], Bytes: recordingBytes(filepath.Join(data, "recordings"), ids[i])})
	}
	const name, password = "bench", "player benchmark passphrase"
	add := exec.Command(bin, "auditor", "add", name, "-c", cfg)
	add.Stdin = strings.NewReader(password + "\n")
	if out, err := add.CombinedOutput(); err != nil {
		return nil, nil, fmt.Errorf("auditor add: %v: %s", err, out)
	}
	srv, err := startServe(o, bin, cfg, web)
	if err != nil {
		return nil, nil, err
	}
	res := measureAll(o, page, web, name, password, ids, sizes, nil)
	if page != "chunked" || o.KeyframeWait <= 0 {
		srv.stop()
		return res, stored, nil
	}
	// The same recordings once the server's background indexer has made
	// their keyframes, by a server started afresh (no Reader kept open).
	indexed := waitKeyframes(filepath.Join(data, "recordings"), ids, o.KeyframeWait)
	srv.stop()
	if srv, err = startServe(o, bin, cfg, web); err != nil {
		return nil, nil, err
	}
	defer srv.stop()
	return append(res, measureAll(o, page+"+kf", web, name, password, ids, sizes, indexed)...), stored, nil
}

// measureAll measures page for each recording; with indexed set, only
// those it marks (the others are reported as failed).
func measureAll(o *options, page, web, name, password string, ids []string, sizes []int64, indexed map[string]bool) []pageResult {
	var res []pageResult
	for i, id := range ids {
		fmt.Printf("%s: %s recording…\n", page, sizeName(sizes[i]))
		var r pageResult
		if indexed != nil && !indexed[id] {
			r = pageResult{Page: page, OutBytes: sizes[i], Failed: fmt.Sprintf("keyframes not made within -keyframes-wait %v", o.KeyframeWait)}
		} else {
			r = measurePage(o, page, "http://"+web, name, password, id, sizes[i], o.Seeks, 42)
		}
		if r.Failed != "" {
			fmt.Printf("  failed: %s\n", r.Failed)
		} else {
			fmt.Printf("  first frame %.0f ms, seeks p50 %.0f ms p99 %.0f ms, heap %.1f MiB (%.1f after GC); fetches %s\n", r.FirstFrame, r.SeekP50, r.SeekP99, r.HeapMiB, r.HeapGCMiB, strings.Join(r.Fetches, ", "))
		}
		res = append(res, r)
	}
	return res
}

// waitKeyframes waits up to d for the index of each recording in ids to
// end with the line saying it holds every keyframe, and returns which do.
func waitKeyframes(dir string, ids []string, d time.Duration) map[string]bool {
	start := time.Now()
	done := map[string]bool{}
	for {
		_ = filepath.WalkDir(dir, func(p string, e os.DirEntry, err error) error {
			if err != nil || e.IsDir() || !strings.HasSuffix(p, ".cast.idx") {
				return nil
			}
			for _, id := range ids {
				if strings.HasPrefix(e.Name(), id) && !done[id] {
					done[id] = hasKeyframes(p)
				}
			}
			return nil
		})
		if countTrue(done) == len(ids) || time.Since(start) > d {
			fmt.Printf("  keyframes made for %d of %d recordings in %s\n", countTrue(done), len(ids), time.Since(start).Round(time.Second))
			return done
		}
		time.Sleep(2 * time.Second)
	}
}

// hasKeyframes reports whether the index file p ends with the line that
// says it holds every keyframe.
func hasKeyframes(p string) bool {
	f, err := os.Open(p)
	if err != nil {
		return false
	}
	defer func() { _ = f.Close() }()
	want := []byte(`"keyframes":true}` + "\n")
	st, err := f.Stat()
	if err != nil || st.Size() < int64(len(want)) {
		return false
	}
	tail := make([]byte, len(want))
	_, err = f.ReadAt(tail, st.Size()-int64(len(want)))
	return err == nil && bytes.Equal(tail, want)
}

func countTrue(m map[string]bool) int {
	n := 0
	for _, v := range m {
		if v {
			n++
		}
	}
	return n
}

// hasCommand reports whether bin's help for the subcommand cmd (its words
// before the first flag) is that subcommand's own.
func hasCommand(bin, cmd string) bool {
	var words []string
	for _, w := range strings.Fields(cmd) {
		if strings.HasPrefix(w, "-") {
			break
		}
		words = append(words, w)
	}
	out, err := exec.Command(bin, append(words, "--help")...).CombinedOutput()
	return err == nil && strings.Contains(string(out), "Usage:\n  jumpcast "+strings.Join(words, " "))
}

// recordingBytes adds up the sizes of the files whose name starts with id
// (the cast, or its compressed form and index).
func recordingBytes(dir, id string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasPrefix(d.Name(), id) {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}

func writeConfig(o *options, page, data string) (cfgPath, web string, err error) {
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", "", err
	}
	sshPub, err := gossh.NewPublicKey(pub)
	if err != nil {
		return "", "", err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", "", err
	}
	web = l.Addr().String()
	_ = l.Close()
	cfg := fmt.Sprintf(`data_dir: %q
ssh:
  listen: "127.0.0.1:0"
  shutdown_grace: 1s
web:
  listen: %q
recording:
  min_free_space: 1MiB
users:
  alice:
    keys: [%q]
    allow:
      - targets: ["db1"]
        as: ["root"]
targets:
  db1:
    address: "127.0.0.1:9"
`, data, web, strings.TrimSpace(string(gossh.MarshalAuthorizedKey(sshPub))))
	cfgPath = o.tmp(page + ".yaml")
	return cfgPath, web, os.WriteFile(cfgPath, []byte(cfg), 0o600)
}

type server struct{ cmd *exec.Cmd }

func startServe(o *options, bin, cfg, web string) (*server, error) {
	log, err := os.Create(cfg + ".log")
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "serve", "-c", cfg)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &server{cmd: cmd}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if res, err := http.Get("http://" + web + "/healthz"); err == nil {
			_ = res.Body.Close()
			if res.StatusCode == 200 {
				return s, nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.stop()
	logged, _ := os.ReadFile(cfg + ".log")
	return nil, fmt.Errorf("%s serve did not answer on %s within 60s: %s", bin, web, bytes.TrimSpace(logged))
}

func (s *server) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }() // owner: stop; ends when the server exits
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = s.cmd.Process.Kill()
		<-done
	}
}

func exitDetail(err error) error {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return fmt.Errorf("%v: %s", err, bytes.TrimSpace(ee.Stderr))
	}
	return err
}

func printReport(r report) {
	fmt.Printf("\nplayer benchmark, %s, %s (%d cores), Chromium %s\n", r.When.Format(time.RFC3339), r.Machine.CPU, r.Machine.Cores, r.Machine.Chromium)
	fmt.Printf("%-11s %-7s %14s %12s %12s %12s %14s\n", "page", "output", "first frame", "seek p50", "seek p99", "JS heap", "heap after GC")
	for _, p := range r.Pages {
		if p.Failed != "" {
			fmt.Printf("%-11s %-7s  fails: %s\n", p.Page, sizeName(p.OutBytes), p.Failed)
			continue
		}
		fmt.Printf("%-11s %-7s %11.0f ms %9.0f ms %9.0f ms %8.1f MiB %10.1f MiB\n", p.Page, sizeName(p.OutBytes), p.FirstFrame, p.SeekP50, p.SeekP99, p.HeapMiB, p.HeapGCMiB)
	}
	for _, s := range r.Stored {
		fmt.Printf("stored: %-11s %-7s %s\n", s.Page, sizeName(s.OutBytes), sizeName(s.Bytes))
	}
}

// machineInfo is where the figures were measured.
type machineInfo struct {
	CPU      string `json:"cpu"`
	Cores    int    `json:"cores"`
	MemMiB   int64  `json:"mem_mib"`
	Go       string `json:"go"`
	Chromium string `json:"chromium"`
	LoadAvg  string `json:"loadavg"`
}

func describeMachine(chromium string) machineInfo {
	m := machineInfo{Cores: runtime.NumCPU(), Go: runtime.Version()}
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "MemTotal:" {
				kb, _ := strconv.ParseInt(f[1], 10, 64)
				m.MemMiB = kb >> 10
			}
		}
	}
	if data, err := os.ReadFile("/proc/loadavg"); err == nil {
		m.LoadAvg = strings.TrimSpace(string(data))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, chromium, "--version").Output(); err == nil {
		m.Chromium = strings.TrimSpace(string(out))
	}
	return m
}
