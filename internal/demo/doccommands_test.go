package demo

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/anmitsu/go-shlex"
)

// TestDocumentedCommandsParse runs every `jumpcast …` command line shown in
// a code block of the README and docs/*.md with --help appended: each
// subcommand and flag a reader copies must exist (cobra rejects unknown ones
// before it prints help).
func TestDocumentedCommandsParse(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the jumpcast binary")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	files, _ := filepath.Glob("../../docs/*.md") // the pattern is valid
	files = append(files, "../../README.md")
	var cmds []string
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range documentedCommands(string(data)) {
			cmds = append(cmds, filepath.Base(f)+": "+c)
		}
	}
	if len(cmds) < 20 {
		t.Fatalf("found only %d documented commands; the extraction is broken: %q", len(cmds), cmds)
	}
	bin := jumpcastBinary(ctx, t)
	for _, c := range cmds {
		_, line, _ := strings.Cut(c, ": ")
		words, err := shlex.Split(line, true) // as the reader's shell splits it
		if err != nil {
			t.Errorf("%s\n  → not a shell command line: %v", c, err)
			continue
		}
		args := append(words[1:], "--help")
		out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
		if err != nil {
			t.Errorf("%s\n  → %v: %s", c, err, firstLine(out))
			continue
		}
		// A misspelt subcommand is an argument to its parent, which then
		// prints its own help. A documented command is a leaf or runs
		// itself (jumpcast lock USER), so a help page that lists
		// subcommands of a parent that does not run means a word was wrong.
		if strings.Contains(string(out), "Available Commands:") && !runnable(string(out)) {
			t.Errorf("%s\n  → not a command: the help of its parent was printed", c)
		}
	}
}

// documentedCommands returns the jumpcast command lines in md's code
// blocks (fenced, or indented by four spaces), with continuation lines
// joined and comments, redirections and pipes cut off.
func documentedCommands(md string) []string {
	var out []string
	inFence := false
	lines := strings.Split(md, "\n")
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if strings.HasPrefix(strings.TrimSpace(l), "```") {
			inFence = !inFence
			continue
		}
		if !inFence && !strings.HasPrefix(l, "    ") {
			continue
		}
		for strings.HasSuffix(strings.TrimSpace(l), `\`) && i+1 < len(lines) {
			i++
			l = strings.TrimSuffix(strings.TrimSpace(l), `\`) + " " + strings.TrimSpace(lines[i])
		}
		l = strings.TrimSpace(l)
		l = strings.TrimPrefix(l, "./bin/")
		if !strings.HasPrefix(l, "jumpcast ") {
			continue
		}
		for _, cut := range []string{" #", " >", " |"} {
			if j := strings.Index(l, cut); j >= 0 {
				l = l[:j]
			}
		}
		out = append(out, strings.TrimSpace(l))
	}
	return out
}

// runnable tells whether a cobra help page is that of a command that runs
// itself: its first usage line is not "PARENT [command]".
func runnable(help string) bool {
	_, usage, ok := strings.Cut(help, "Usage:\n")
	first, _, _ := strings.Cut(strings.TrimSpace(usage), "\n")
	return ok && !strings.HasSuffix(first, "[command]")
}

func firstLine(b []byte) string {
	s, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	return s
}
