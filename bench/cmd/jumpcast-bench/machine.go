package main

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"
)

// machine describes where the numbers were measured.
type machine struct {
	CPU        string `json:"cpu"`
	Cores      int    `json:"cores"`
	AESNI      bool   `json:"aes_ni"`
	MemTotalMB int64  `json:"mem_total_mb"`
	Kernel     string `json:"kernel"`
	OpenSSH    string `json:"openssh"`
	Go         string `json:"go"`
	Commit     string `json:"commit"`
	Dirty      bool   `json:"dirty"`
	Jumpcast   string `json:"jumpcast"`
	// LoadAvg is /proc/loadavg when the run started: other work on the
	// machine makes every path slower, though the interleaving keeps the
	// ratios fair.
	LoadAvg string `json:"loadavg"`
	// GoEnv holds the Go runtime variables set for the run (GOGC,
	// GOMEMLIMIT, GOMAXPROCS, GODEBUG): the bastions inherit them.
	GoEnv map[string]string `json:"go_env,omitempty"`
}

// goRuntimeVars are the environment variables that change how a Go
// bastion runs.
var goRuntimeVars = []string{"GOGC", "GOMEMLIMIT", "GOMAXPROCS", "GODEBUG"}

// describeMachine gathers the machine facts; a fact it cannot read stays empty.
func describeMachine(jumpcastBin string) machine {
	m := machine{Cores: runtime.NumCPU(), Go: runtime.Version()}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			k, v, ok := strings.Cut(sc.Text(), ":")
			k, v = strings.TrimSpace(k), strings.TrimSpace(v)
			switch {
			case !ok:
			case k == "model name" && m.CPU == "":
				m.CPU = v
			case k == "flags" && !m.AESNI:
				m.AESNI = strings.Contains(" "+v+" ", " aes ")
			}
		}
		_ = f.Close()
	}
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		for _, line := range strings.Split(string(data), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "MemTotal:" {
				kb = atoi64(f[1])
			}
		}
		m.MemTotalMB = kb / 1024
	}
	if data, err := os.ReadFile("/proc/loadavg"); err == nil {
		m.LoadAvg = strings.TrimSpace(string(data))
	}
	if data, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(data))
	}
	for _, k := range goRuntimeVars {
		if v, ok := os.LookupEnv(k); ok {
			if m.GoEnv == nil {
				m.GoEnv = map[string]string{}
			}
			m.GoEnv[k] = v
		}
	}
	m.OpenSSH = output("ssh", "-V")
	m.Commit = output("git", "rev-parse", "HEAD")
	m.Dirty = output("git", "status", "--porcelain", "--untracked-files=no") != ""
	m.Jumpcast = output(jumpcastBin, "version")
	return m
}

// output runs a command (bounded to 10 s) and returns its trimmed stdout
// and stderr ("" if it fails).
func output(name string, args ...string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return ""
	}
	return strings.TrimSpace(out.String())
}

func atoi64(s string) int64 {
	var n int64
	for _, c := range s {
		if c < '0' || c > '9' {
			break
		}
		n = n*10 + int64(c-'0')
	}
	return n
}
