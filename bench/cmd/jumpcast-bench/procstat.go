package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// clockTicks is USER_HZ, the unit of the CPU times in /proc/PID/stat. It is
// 100 on every Linux architecture Go supports.
const clockTicks = 100

// procTree is a process and its descendants, as /proc shows them: the
// bastion's process (jumpcast) or an sshd listener with its per-connection
// children (the ProxyJump host).
type procTree struct{ root int }

// Mem is the summed resident and proportional set size, in bytes, of the
// root and every descendant (PSS divides shared pages among their users, so
// it adds up across processes).
func (p procTree) Mem() (rss, pss int64, err error) {
	pids, err := descendants(p.root)
	if err != nil {
		return 0, 0, err
	}
	for _, pid := range append(pids, p.root) {
		r, s, err := smapsRollup(pid)
		if err != nil {
			if pid == p.root {
				return 0, 0, err
			}
			continue // a connection's process that just ended
		}
		rss += r
		pss += s
	}
	return rss, pss, nil
}

// CPU is the root's user+system CPU time plus that of its waited-for
// children, in seconds. sshd's per-connection processes show up in the
// listener's children times once they end and are reaped.
func (p procTree) CPU() (float64, error) {
	f, err := statFields(p.root)
	if err != nil {
		return 0, err
	}
	var ticks int64
	for _, i := range []int{11, 12, 13, 14} { // utime stime cutime cstime (fields 14-17)
		v, err := strconv.ParseInt(f[i], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("parse /proc/%d/stat: %w", p.root, err)
		}
		ticks += v
	}
	return float64(ticks) / clockTicks, nil
}

// smapsRollup reads Rss and Pss (bytes) from /proc/PID/smaps_rollup.
func smapsRollup(pid int) (rss, pss int64, err error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return 0, 0, fmt.Errorf("read smaps_rollup: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 {
			continue
		}
		v, err := strconv.ParseInt(fields[1], 10, 64)
		if err != nil {
			continue
		}
		switch fields[0] {
		case "Rss:":
			rss = v << 10
		case "Pss:":
			pss = v << 10
		}
	}
	return rss, pss, nil
}

// statFields returns the fields of /proc/PID/stat after the command name
// (which is in parentheses and may hold spaces): index 0 is the state.
func statFields(pid int) ([]string, error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil, fmt.Errorf("read /proc stat: %w", err)
	}
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return nil, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 20 {
		return nil, fmt.Errorf("parse /proc/%d/stat: %d fields", pid, len(f))
	}
	return f, nil
}

// descendants lists every process below root, from /proc.
func descendants(root int) ([]int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("list /proc: %w", err)
	}
	parent := map[int][]int{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		f, err := statFields(pid)
		if err != nil {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		parent[ppid] = append(parent[ppid], pid)
	}
	var out []int
	queue := []int{root}
	for len(queue) > 0 {
		kids := parent[queue[0]]
		queue = append(queue[1:], kids...)
		out = append(out, kids...)
	}
	return out, nil
}

// readPIDFile reads a pid file such as sshd's.
func readPIDFile(path string) (int, error) {
	data, err := os.ReadFile(filepath.Clean(path))
	if err != nil {
		return 0, fmt.Errorf("read pid file: %w", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		return 0, fmt.Errorf("parse pid file %s: %w", path, err)
	}
	return pid, nil
}
