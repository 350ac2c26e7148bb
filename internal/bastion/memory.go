package bastion

import (
	"context"
	"log/slog"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"time"

	"github.com/jumpcast/jumpcast/config"
)

// memoryBudgetEvery is how often the automatic memory budget follows the
// number of open sessions.
const memoryBudgetEvery = time.Second

// cgroupMemoryMax is cgroup v2's limit for this process's group.
const cgroupMemoryMax = "/sys/fs/cgroup/memory.max"

// RunMemoryBudget keeps the Go runtime's soft memory limit (the one
// GOMEMLIMIT sets) at cfg's memory_budget until ctx ends: a fixed size
// once, or, with auto, config.AutoMemoryBudget for the sessions open
// (sessions(), read every second), under the cgroup's memory.max, and
// never under one and a half times the live heap (autoLimit). With
// GOMEMLIMIT in the environment, or memory_budget off, it sets nothing.
// The limit is the process's: only a process that is one bastion calls
// this (jumpcast serve, the benchmark's bastion), never a test binary.
func RunMemoryBudget(ctx context.Context, cfg *config.Config, sessions func() int, log *slog.Logger) {
	mb := cfg.MemoryBudget
	switch {
	case os.Getenv("GOMEMLIMIT") != "":
		log.Info("memory budget: GOMEMLIMIT is set and wins over memory_budget", "GOMEMLIMIT", os.Getenv("GOMEMLIMIT"))
		return
	case mb.Off:
		return
	case mb.Fixed > 0:
		debug.SetMemoryLimit(int64(mb.Fixed))
		log.Info("memory budget", "limit", mb.Fixed.String())
		return
	}
	ceiling := readCgroupMax(cgroupMemoryMax)
	log.Info("memory budget: auto", "base", config.ByteSize(config.AutoMemoryBase).String(),
		"per_session", config.ByteSize(config.AutoMemoryPerSession).String(), "cgroup_max", ceiling)
	t := time.NewTicker(memoryBudgetEvery)
	defer t.Stop()
	last := int64(-1)
	live := []metrics.Sample{{Name: heapLive}}
	for {
		metrics.Read(live)
		if l := autoLimit(sessions(), ceiling, live[0].Value); l != last {
			debug.SetMemoryLimit(l)
			last = l
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// heapLive is the runtime metric of the heap the last collection found
// live.
const heapLive = "/gc/heap/live:bytes"

// autoLimit is config.AutoMemoryBudget, but never under one and a half
// times the live heap: work that is not sessions (a player opening a long
// recording makes its keyframes) may hold more than the budget for a
// while, and a limit under what is live makes the collector run all the
// time (the runtime caps it at half the CPU) instead of letting that work
// finish.
func autoLimit(sessions int, ceiling int64, live metrics.Value) int64 {
	l := config.AutoMemoryBudget(sessions, ceiling)
	if live.Kind() == metrics.KindUint64 {
		l = max(l, int64(live.Uint64()/2*3))
	}
	return l
}

// readCgroupMax reads a cgroup v2 memory.max: its bytes, or 0 for "max",
// a missing file or anything unreadable.
func readCgroupMax(path string) int64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil || n <= 0 {
		return 0
	}
	return n
}
