package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"

	"github.com/jumpcast/jumpcast/recorder/asciicast"
)

// genCast writes an asciicast v2 file with about outBytes of output that
// reads like a long session on a server: bursts of log lines (levels in
// colour), every few hundred bursts a full-screen status table drawn over a
// cleared screen, and now and then a long pause. The output arrives at
// rate bytes per second of recording time, so duration grows with size.
// The same seed gives the same file.
func genCast(path string, outBytes int64, rate float64, seed uint64) (err error) {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	w := bufio.NewWriterSize(f, 1<<20)
	hdr, err := json.Marshal(asciicast.Header{Version: 2, Width: 120, Height: 36, Timestamp: 1795510800,
		Title: "root@db1 — alice", Env: map[string]string{"TERM": "xterm-256color", "SHELL": "/bin/bash"}})
	if err != nil {
		return err
	}
	w.Write(hdr)
	w.WriteByte('\n')
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	var written int64
	t := 0.0
	var sb strings.Builder
	services := []string{"api", "worker", "scheduler", "db-proxy", "auth", "billing"}
	paths := []string{"/v1/items", "/v1/users", "/v1/orders", "/healthz", "/v1/search", "/v1/reports/daily"}
	for burst := 0; written < outBytes; burst++ {
		sb.Reset()
		if burst%400 == 399 {
			drawTable(&sb, rng, burst)
		} else {
			for range 1 + rng.IntN(30) {
				level := "\x1b[32mINFO\x1b[0m"
				switch r := rng.IntN(100); {
				case r < 3:
					level = "\x1b[1;31mERROR\x1b[0m"
				case r < 12:
					level = "\x1b[33mWARN\x1b[0m"
				}
				sec := int(t)
				fmt.Fprintf(&sb, "2026-12-04T%02d:%02d:%02d.%03dZ %s %s[%d]: request id=%016x method=GET path=%s/%d status=%d latency=%dms bytes=%d\r\n",
					10+sec/3600%12, sec/60%60, sec%60, rng.IntN(1000), level, services[rng.IntN(len(services))], 1000+rng.IntN(9000),
					rng.Uint64(), paths[rng.IntN(len(paths))], rng.IntN(100000), []int{200, 200, 200, 201, 204, 404, 500}[rng.IntN(7)],
					rng.IntN(900), rng.IntN(1<<16))
			}
		}
		data := sb.String()
		b, _ := asciicast.Event{Time: t, Code: asciicast.CodeOutput, Data: data}.MarshalJSON()
		w.Write(b)
		if err := w.WriteByte('\n'); err != nil {
			return err
		}
		written += int64(len(data))
		gap := float64(len(data)) / rate * (0.5 + rng.Float64())
		if rng.IntN(2000) == 0 {
			gap += 30 + rng.Float64()*60 // someone reads the screen
		}
		t += gap
	}
	b, _ := asciicast.Event{Time: t, Code: asciicast.CodeExit, Data: "0"}.MarshalJSON()
	w.Write(b)
	w.WriteByte('\n')
	return w.Flush()
}

// drawTable draws a top-like screen: cleared, a reverse-video header, rows.
func drawTable(sb *strings.Builder, rng *rand.Rand, n int) {
	sb.WriteString("\x1b[H\x1b[2J\x1b[7m  PID USER      %CPU %MEM COMMAND                                  status table ")
	fmt.Fprintf(sb, "%-6d\x1b[0m\r\n", n)
	for i := range 30 {
		fmt.Fprintf(sb, "%5d %-9s %4.1f %4.1f %-40s\r\n", 100+i*37, []string{"root", "www-data", "postgres"}[i%3],
			rng.Float64()*100, rng.Float64()*20, fmt.Sprintf("worker --queue=q%d --id=%x", i, rng.Uint32()))
	}
}
