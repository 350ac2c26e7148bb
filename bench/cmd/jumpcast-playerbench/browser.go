package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/heapprofiler"
	"github.com/chromedp/cdproto/performance"
	"github.com/chromedp/chromedp"
)

// pageResult is what one recording page measured in a fresh Chromium.
type pageResult struct {
	Page       string  `json:"page"` // "chunked" (this tree) or "whole-file" (the baseline)
	Recording  string  `json:"recording"`
	OutBytes   int64   `json:"out_bytes"`
	FirstFrame float64 `json:"first_frame_ms"` // navigation start → the first screen drawn
	// Fetches are the page's requests before its first frame, each as
	// "path: start→end ms" since navigation start: where the first
	// frame's time goes.
	Fetches   []string  `json:"fetches,omitempty"`
	SeeksMS   []float64 `json:"seeks_ms"` // each seek → its screen drawn, in order
	SeekP50   float64   `json:"seek_p50_ms"`
	SeekP99   float64   `json:"seek_p99_ms"`
	HeapMiB   float64   `json:"js_heap_used_mib"`          // after the seeks
	HeapGCMiB float64   `json:"js_heap_used_after_gc_mib"` // the same after a full GC: what the page keeps
	Failed    string    `json:"failed,omitempty"`          // why the page could not play it
}

// firstFrameJS answers, while polled, performance.now() (milliseconds
// since the navigation started) once the player shows its first screen,
// minus that when the page gave up, and 0 meanwhile. The chunked page marks its
// poster "ready" (or "paused" at ?t=); the whole-file page (asciinema-player)
// knows the duration once the cast is loaded and parsed and its first
// frame is drawn.
const firstFrameJS = `(function () {
  var box = document.getElementById("player"), p = window.jumpcastPlayer;
  if (!box) return 0;
  var s = box.dataset.state;
  if (s === "error" || s === "offline") return -performance.now();
  if (p && p.chunkCount) return (s === "ready" || s === "paused" || s === "ended") ? performance.now() : 0;
  if (p && p.getDuration && p.getDuration() > 0) return performance.now();
  return 0;
})()`

// fetchesJS lists the page's fetches so far (not its scripts and styles)
// with when each started and ended, in ms since navigation start.
const fetchesJS = `performance.getEntriesByType("resource").filter(function (e) {
  return e.initiatorType === "fetch" || e.initiatorType === "xmlhttprequest";
}).map(function (e) {
  return new URL(e.name).pathname.replace(/^\/recordings\/[^/]+/, "") + new URL(e.name).search + ": " + e.startTime.toFixed(0) + "→" + e.responseEnd.toFixed(0) + " ms";
})`

// seekJS seeks to the fraction %v of the recording and answers how many
// milliseconds passed until the screen was drawn (the seek's promise,
// everything written parsed, then an animation frame).
const seekJS = `(async function () {
  var p = window.jumpcastPlayer, t0 = performance.now();
  await p.seek(p.getDuration() * %v);
  if (p.settled) await p.settled();
  await new Promise(function (r) { requestAnimationFrame(function () { r(); }); });
  return performance.now() - t0;
})()`

// measurePage opens base/recordings/id in a fresh headless Chromium,
// logged in as name, and measures the first frame, seeks random seeks
// (the same fractions for every page: seed) and the JS heap.
func measurePage(o *options, page, base, name, password, id string, out int64, seeks int, seed uint64) pageResult {
	res := pageResult{Page: page, Recording: id, OutBytes: out}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(o.Chromium), chromedp.Headless, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.DisableGPU, chromedp.UserDataDir(o.tmp("chromium-" + page + "-" + id)), chromedp.WindowSize(1280, 900),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-extensions", true), chromedp.Flag("enable-precise-memory-info", true),
	}
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox)
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.PageTimeout+2*time.Minute)
	defer cancel()
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	tctx, cancelTab := chromedp.NewContext(actx)
	defer cancelTab()
	fail := func(what string, err error) pageResult {
		res.Failed = fmt.Sprintf("%s: %v", what, err)
		return res
	}
	if err := chromedp.Do(tctx,
		chromedp.Navigate(base+"/login"),
		chromedp.WaitVisible(chromedp.ID("password")),
		chromedp.SendKeys(chromedp.ID("name"), name),
		chromedp.SendKeys(chromedp.ID("password"), password),
		chromedp.Submit(chromedp.ID("password")),
		chromedp.WaitVisible(chromedp.ID("recordings")),
	); err != nil {
		return fail("log in", err)
	}
	if _, err := chromedp.Call(tctx, performance.Enable, performance.EnableParams{}); err != nil {
		return fail("enable metrics", err)
	}
	if err := chromedp.Do(tctx, chromedp.Navigate(base+"/recordings/"+id)); err != nil {
		return fail("open the recording", err)
	}
	ff, err := chromedp.Run(tctx, chromedp.Poll[float64](firstFrameJS, chromedp.WithPollingTimeout(o.PageTimeout)))
	switch {
	case errors.Is(err, context.DeadlineExceeded) || err != nil && ctx.Err() == nil && ff == 0:
		return fail("first frame", fmt.Errorf("none within %v (%v)", o.PageTimeout, err))
	case err != nil:
		return fail("first frame", err)
	case ff < 0:
		return fail("first frame", fmt.Errorf("the player reported an error after %.1f s (the page could not load the recording)", -ff/1000))
	}
	res.FirstFrame = ff
	res.Fetches, _ = chromedp.Run(tctx, chromedp.Evaluate[[]string](fetchesJS))
	rng := rand.New(rand.NewPCG(seed, seed+1))
	for range seeks {
		ms, err := chromedp.Run(tctx, chromedp.Evaluate[float64](fmt.Sprintf(seekJS, rng.Float64()), chromedp.EvalAwaitPromise))
		if err != nil {
			return fail("seek", err)
		}
		res.SeeksMS = append(res.SeeksMS, ms)
	}
	res.SeekP50, res.SeekP99 = percentile(res.SeeksMS, 50), percentile(res.SeeksMS, 99)
	res.HeapMiB = heapMiB(tctx)
	if _, err := chromedp.Call(tctx, heapprofiler.CollectGarbage, cdp.Empty{}); err == nil {
		res.HeapGCMiB = heapMiB(tctx)
	}
	return res
}

// heapMiB is the page's JSHeapUsedSize (Performance.getMetrics), MiB.
func heapMiB(ctx context.Context) float64 {
	m, err := chromedp.Call(ctx, performance.GetMetrics, cdp.Empty{})
	if err != nil {
		return -1
	}
	for _, x := range m.Metrics {
		if x.Name == "JSHeapUsedSize" {
			return x.Value / (1 << 20)
		}
	}
	return -1
}

// percentile is the nearest-rank percentile p of xs (p99 of 20 seeks is
// the slowest).
func percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	rank := int(float64(len(s))*p/100+0.999999) - 1
	return s[max(0, min(len(s)-1, rank))]
}
