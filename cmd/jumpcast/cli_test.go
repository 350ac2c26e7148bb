package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jumpcast/jumpcast/config"
	"github.com/spf13/cobra"
)

// runCLI runs the command tree in-process and returns what it printed.
func runCLI(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetIn(strings.NewReader(stdin))
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), err
}

// TestHelpForEveryCommand walks the whole command tree, so a new command
// cannot ship without --help and an example.
func TestHelpForEveryCommand(t *testing.T) {
	var walk func(c *cobra.Command)
	n := 0
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			walk(sub)
		}
		if c.Hidden || c.Name() == "help" || c.Name() == "completion" && c.Parent() == nil {
			return
		}
		path := strings.Fields(c.CommandPath())[1:]
		t.Run(strings.Join(append([]string{"jumpcast"}, path...), "_"), func(t *testing.T) {
			out, err := runCLI(t, "", append(path, "--help")...)
			if err != nil {
				t.Fatalf("--help: %v", err)
			}
			if !strings.Contains(out, "Usage:") {
				t.Errorf("--help printed no usage:\n%s", out)
			}
			if c.Runnable() && c.Example == "" && c.Parent() != nil && c.Parent().Name() != "completion" {
				t.Errorf("%s has no example in its --help", c.CommandPath())
			}
		})
		n++
	}
	walk(newRootCmd())
	if n < 15 {
		t.Errorf("only %d commands found; the tree is smaller than expected", n)
	}
}

func TestUsageErrorsExitTwo(t *testing.T) {
	for _, args := range [][]string{{"nope"}, {"serve", "--bogus"}, {"recordings", "show"}, {"play"}} {
		_, err := runCLI(t, "", args...)
		if err == nil {
			t.Errorf("%v: no error", args)
			continue
		}
		var ue usageError
		if !isCobraUsageError(err) && !errors.As(err, &ue) {
			t.Errorf("%v: %v is not a usage error (exit 2)", args, err)
		}
	}
}

func TestVersion(t *testing.T) {
	out, err := runCLI(t, "", "version")
	if err != nil || !strings.Contains(out, "jumpcast dev") || !strings.Contains(out, "go1.") {
		t.Errorf("version: %q, %v", out, err)
	}
}

func TestConfigInitThenCheck(t *testing.T) {
	dir := t.TempDir()
	pub := filepath.Join(dir, "id.pub")
	if err := os.WriteFile(pub, []byte(testPubKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := runCLI(t, "", "config", "init", "--user", "alice", "--key", pub, "--target", "db1=10.0.0.5:22", "--target", "db2=[2001:db8::5]:2222", "--as", "root,deploy")
	if err != nil {
		t.Fatalf("config init: %v\n%s", err, out)
	}
	cfgPath := filepath.Join(dir, "jumpcast.yaml")
	if err := os.WriteFile(cfgPath, []byte(out), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err = runCLI(t, "", "config", "check", "-c", cfgPath)
	if err != nil {
		t.Fatalf("config check of what init wrote: %v\n%s", err, out)
	}
	for _, want := range []string{"OK", "alice", "db1", "10.0.0.5:22", "db2", "root,deploy", "login banner: none"} {
		if !strings.Contains(out, want) {
			t.Errorf("config check output lacks %q:\n%s", want, out)
		}
	}
	withBanner := string(mustRead(t, cfgPath)) + "ssh:\n  banner: |\n    Sessions are recorded.\n    Authorized use only.\n"
	if err := os.WriteFile(cfgPath, []byte(withBanner), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err = runCLI(t, "", "config", "check", "-c", cfgPath); err != nil || !strings.Contains(out, "login banner: 2 line(s)") {
		t.Errorf("config check with a banner: %v\n%s", err, out)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestConfigCheckNamesTheBadKey(t *testing.T) {
	cfgPath := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(cfgPath, []byte("ssh:\n  listen: \":2222\"\nrecording:\n  on_failure: sometimes\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := runCLI(t, "", "config", "check", "-c", cfgPath)
	if err == nil || !strings.Contains(err.Error(), "line 4") || !strings.Contains(err.Error(), "recording.on_failure") {
		t.Errorf("config check error = %v; want the key and line 4", err)
	}
}

// TestConfigCheckNamesDeprecatedInput: an older file's recording.input:
// true still loads, as all, and config check says what to write instead.
func TestConfigCheckNamesDeprecatedInput(t *testing.T) {
	cfgPath := filepath.Join(t.TempDir(), "old.yaml")
	if err := os.WriteFile(cfgPath, []byte("recording:\n  input: true\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := runCLI(t, "", "config", "check", "-c", cfgPath)
	if err != nil || !strings.Contains(out, "input recorded: all sessions") ||
		!strings.Contains(out, "line 2: recording.input: true is deprecated; it means all (write auto, all or off; the default is auto)") {
		t.Errorf("config check: %v\n%s", err, out)
	}
}

const testPubKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl alice@laptop"

// TestExampleConfigPasses keeps the documented example loadable.
func TestExampleConfigPasses(t *testing.T) {
	out, err := runCLI(t, "", "config", "check", "-c", "../../docs/jumpcast.example.yaml")
	if err != nil {
		t.Fatalf("docs/jumpcast.example.yaml: %v", err)
	}
	for _, want := range []string{"alice", "db1", "web1", "postgres,root", "hosts 10.0.1.*"} {
		if !strings.Contains(out, want) {
			t.Errorf("effective policy lacks %q:\n%s", want, out)
		}
	}
}

// The address printed after "auditor add": never a port 0 or an empty
// host, https under TLS.
func TestWebURL(t *testing.T) {
	for _, c := range []struct{ listen, cert, want string }{
		{"127.0.0.1:8080", "", "http://127.0.0.1:8080/"},
		{":8080", "", "http://localhost:8080/"},
		{"0.0.0.0:443", "/etc/tls.crt", "https://localhost:443/"},
		{"[::]:8080", "", "http://localhost:8080/"},
		{"[::1]:8080", "", "http://[::1]:8080/"},
		{"127.0.0.1:0", "", ""},
		{"", "", ""},
	} {
		cfg := config.Default()
		cfg.Web.Listen, cfg.Web.TLSCert = c.listen, c.cert
		if got := webURL(cfg); got != c.want {
			t.Errorf("webURL(%q, tls %v) = %q, want %q", c.listen, c.cert != "", got, c.want)
		}
	}
}
