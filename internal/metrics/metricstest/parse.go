// Package metricstest reads a Prometheus text exposition (what /metrics
// serves) for tests that assert on exact series.
package metricstest

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Parse returns each sample by its series as written ("name{labels}")
// and each metric's HELP text by name.
func Parse(r io.Reader) (samples map[string]float64, help map[string]string, err error) {
	samples, help = map[string]float64{}, map[string]string{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "# HELP "); ok {
			name, text, _ := strings.Cut(rest, " ")
			help[name] = text
			continue
		}
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			return nil, nil, fmt.Errorf("sample line %q: %w", line, err)
		}
		samples[line[:i]] = v
	}
	return samples, help, sc.Err()
}
