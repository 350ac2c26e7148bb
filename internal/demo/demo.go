package demo

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// AccountName is the web account the demo creates.
const AccountName = "demo"

// Options configures Start. The zero value is usable except for Jumpcast.
type Options struct {
	// Jumpcast is the path of the jumpcast binary to run. Required.
	Jumpcast string
	// Dir is the folder for keys, config and data. Empty: a new temporary
	// folder, removed by Close unless Keep is set. A given Dir is created
	// if needed and never removed.
	Dir  string
	Keep bool
	// SSHPort and WebPort are the preferred loopback ports (2222 and 8080
	// in `make demo`); when busy, or 0, free ports are used.
	SSHPort, WebPort int
	// HomeKeys adds the user's ~/.ssh/id_*.pub keys to the demo user, so
	// that a plain `ssh -p PORT …` works. False: only the generated demo
	// key logs in (the test uses that).
	HomeKeys bool
	// Shell is what the demo target runs. Empty: $SHELL, else /bin/sh.
	Shell string
	// Logger receives the demo target's few messages. Nil: discarded.
	Logger *slog.Logger
	// StartTimeout bounds the wait for jumpcast to listen. Zero: 20s.
	StartTimeout time.Duration
}

// Demo is a running demo. Its fields are set by Start and read-only after.
type Demo struct {
	Dir        string // the demo folder
	ConfigPath string // <Dir>/jumpcast.yaml
	LogPath    string // jumpcast serve's stdout and stderr
	User       string // bastion user and remote user name
	SSHPort    int
	WebURL     string // http://127.0.0.1:PORT/
	KeyPath    string // the generated client key (private)
	KnownHosts string // pins the bastion's host key for the printed ssh line
	HomeKeys   bool   // the user's own keys were added too
	Account    string
	Password   string

	jumpcast  string
	removeDir bool
	target    *target
	cmd       *exec.Cmd
	exited    chan struct{} // closed when the jumpcast child was reaped
	waitErr   error         // set before exited is closed
}

// Start creates the demo folder, keys and config, starts the demo target,
// creates the auditor and starts `jumpcast serve`, and returns once both of
// jumpcast's listeners accept connections. On error everything started is
// stopped again.
func Start(ctx context.Context, o Options) (d *Demo, err error) {
	if o.Jumpcast == "" {
		return nil, errors.New("demo: no jumpcast binary given")
	}
	d = &Demo{jumpcast: o.Jumpcast, Account: AccountName, User: osUserName()}
	defer func() {
		if err != nil {
			_ = d.Close()
		}
	}()
	if err := d.makeDir(o); err != nil {
		return nil, err
	}
	if err := d.setup(o); err != nil {
		return nil, err
	}
	if err := d.addAccount(ctx); err != nil {
		return nil, err
	}
	if err := d.serve(); err != nil {
		return nil, err
	}
	timeout := o.StartTimeout
	if timeout == 0 {
		timeout = 20 * time.Second
	}
	if err := d.waitListening(ctx, timeout); err != nil {
		return nil, err
	}
	return d, nil
}

func (d *Demo) makeDir(o Options) error {
	if o.Dir == "" {
		dir, err := os.MkdirTemp("", "jumpcast-demo-")
		if err != nil {
			return fmt.Errorf("demo folder: %w", err)
		}
		d.Dir, d.removeDir = dir, !o.Keep
		return nil
	}
	abs, err := filepath.Abs(o.Dir)
	if err != nil {
		return fmt.Errorf("demo folder: %w", err)
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return fmt.Errorf("demo folder: %w", err)
	}
	d.Dir = abs
	return nil
}

// setup writes the keys, starts the demo target and writes the config and
// the known_hosts file.
func (d *Demo) setup(o Options) error {
	path := func(name string) string { return filepath.Join(d.Dir, name) }
	hostKey, err := newKey(path("bastion_host_ed25519_key"), "jumpcast demo bastion")
	if err != nil {
		return fmt.Errorf("bastion host key: %w", err)
	}
	identity, err := newKey(path("bastion_id_ed25519"), "jumpcast demo bastion identity")
	if err != nil {
		return fmt.Errorf("bastion identity key: %w", err)
	}
	d.KeyPath = path("demo_id_ed25519")
	client, err := newKey(d.KeyPath, "jumpcast demo user")
	if err != nil {
		return fmt.Errorf("demo user key: %w", err)
	}
	targetKey, err := newKey("", "")
	if err != nil {
		return fmt.Errorf("demo target host key: %w", err)
	}
	shell := o.Shell
	if shell == "" {
		shell = os.Getenv("SHELL")
	}
	if shell == "" {
		shell = "/bin/sh"
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if d.target, err = startTarget(targetKey, identity.PublicKey(), shell, log); err != nil {
		return err
	}
	if d.SSHPort, err = pickPort(o.SSHPort); err != nil {
		return err
	}
	webPort, err := pickPort(o.WebPort)
	if err != nil {
		return err
	}
	if webPort == d.SSHPort { // both preferred ports were busy and the kernel reused one
		if webPort, err = pickPort(0); err != nil {
			return err
		}
	}
	d.WebURL = fmt.Sprintf("http://127.0.0.1:%d/", webPort)
	keys := []string{authorizedLine(client.PublicKey(), "jumpcast demo user")}
	if o.HomeKeys {
		home := homeKeys()
		d.HomeKeys = len(home) > 0
		keys = append(keys, home...)
	}
	cfg := configYAML(configParams{
		DataDir: path("data"), HostKey: path("bastion_host_ed25519_key"),
		Identity: path("bastion_id_ed25519"), SSHPort: d.SSHPort, WebPort: webPort,
		User: d.User, UserKeys: keys, TargetAddr: d.target.Addr(),
		TargetHostKey: authorizedLine(targetKey.PublicKey(), "demo target"),
	})
	d.ConfigPath = path("jumpcast.yaml")
	if err := os.WriteFile(d.ConfigPath, []byte(cfg), 0o600); err != nil {
		return fmt.Errorf("write config: %w", err)
	}
	d.KnownHosts = path("known_hosts")
	kh := fmt.Sprintf("[127.0.0.1]:%d %s\n", d.SSHPort, authorizedLine(hostKey.PublicKey(), "jumpcast demo bastion"))
	if err := os.WriteFile(d.KnownHosts, []byte(kh), 0o600); err != nil {
		return fmt.Errorf("write known_hosts: %w", err)
	}
	return nil
}

// addAccount runs `jumpcast auditor add demo --admin` with a new random
// password on stdin, before the server holds the database.
func (d *Demo) addAccount(ctx context.Context) error {
	d.Password = randomPassword()
	cmd := exec.CommandContext(ctx, d.jumpcast, "auditor", "add", d.Account, "--admin", "-c", d.ConfigPath)
	cmd.Stdin = strings.NewReader(d.Password + "\n")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("jumpcast auditor add: %w: %s", err, bytes.TrimSpace(out))
	}
	return nil
}

// randomPassword is 16 random base32 characters (80 bits).
func randomPassword() string {
	return rand.Text()[:16]
}

// serve starts `jumpcast serve -c CONFIG` in its own process group (a
// Ctrl-C in the terminal reaches the demo program, which then stops it in
// order), with its output in LogPath.
func (d *Demo) serve() error {
	d.LogPath = filepath.Join(d.Dir, "jumpcast.log")
	logf, err := os.OpenFile(d.LogPath, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("jumpcast log: %w", err)
	}
	defer func() { _ = logf.Close() }() // the child has its own descriptor
	d.cmd = exec.Command(d.jumpcast, "serve", "-c", d.ConfigPath)
	d.cmd.Stdout, d.cmd.Stderr = logf, logf
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := d.cmd.Start(); err != nil {
		return fmt.Errorf("start jumpcast serve: %w", err)
	}
	d.exited = make(chan struct{})
	// Owner: this goroutine reaps the child; exited tells everyone else.
	go func() {
		d.waitErr = d.cmd.Wait()
		close(d.exited)
	}()
	return nil
}

// waitListening polls jumpcast's two ports until both accept, the child
// exits, ctx ends or timeout passes.
func (d *Demo) waitListening(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	addrs := []string{net.JoinHostPort("127.0.0.1", strconv.Itoa(d.SSHPort)), strings.TrimSuffix(strings.TrimPrefix(d.WebURL, "http://"), "/")}
	for _, addr := range addrs {
		for {
			c, err := net.DialTimeout("tcp", addr, time.Second)
			if err == nil {
				_ = c.Close()
				break
			}
			select {
			case <-d.exited:
				return fmt.Errorf("jumpcast serve exited (%v); its log:\n%s", d.waitErr, d.logTail())
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(50 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("jumpcast serve did not listen on %s within %v; its log:\n%s", addr, timeout, d.logTail())
			}
		}
	}
	return nil
}

// logTail is the end of jumpcast's log, for error messages.
func (d *Demo) logTail() string {
	data, _ := os.ReadFile(d.LogPath) // best effort: an error message is being built
	if len(data) > 4000 {
		data = data[len(data)-4000:]
	}
	return string(data)
}

// Exited is closed when the jumpcast child has ended (on its own or by Close).
func (d *Demo) Exited() <-chan struct{} { return d.exited }

// SSHCommand is the command line that opens a recorded shell on the demo
// target. withKey adds -i with the generated key (needed when the user's own
// keys were not added).
func (d *Demo) SSHCommand(withKey bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "ssh -p %d -o UserKnownHostsFile=%s", d.SSHPort, d.KnownHosts)
	if withKey {
		fmt.Fprintf(&b, " -o IdentitiesOnly=yes -i %s", d.KeyPath)
	}
	fmt.Fprintf(&b, " %s@demo@127.0.0.1", d.User)
	return b.String()
}

// Print writes what the user needs: the ssh line, the web address, the
// auditor's name and password, and where things are.
func (d *Demo) Print(w io.Writer) {
	fmt.Fprintf(w, `
jumpcast demo is running (loopback only). Folder: %s

1. Open a recorded shell on the demo target (a local SSH server running your shell):

     %s

   Run a few commands (ls, top, vim...), then exit.

2. Watch it in the browser — live while it runs, or played back afterwards:

     %s
     name: %s   password: %s

Also try: %s 'uname -a'     (an exec session, recorded too)
and:      %s recordings ls -c %s
Config: %s   Server log: %s

Press Ctrl-C to stop the demo%s.
`, d.Dir, d.SSHCommand(!d.HomeKeys), d.WebURL, d.Account, d.Password,
		d.SSHCommand(!d.HomeKeys), d.jumpcast, d.ConfigPath, d.ConfigPath, d.LogPath, d.removeNote())
	if d.HomeKeys {
		fmt.Fprintf(w, "(Your ~/.ssh/id_*.pub keys log in; without them add: -o IdentitiesOnly=yes -i %s)\n", d.KeyPath)
	}
}

func (d *Demo) removeNote() string {
	if d.removeDir {
		return " and delete its folder"
	}
	return " (the folder is kept)"
}

// Close stops jumpcast (SIGTERM, SIGKILL after 10 s), stops the demo
// target and removes the folder when Start made it a temporary one. It is
// safe on a partly started Demo and returns the first error that matters.
func (d *Demo) Close() error {
	var errs []error
	if d.cmd != nil && d.cmd.Process != nil {
		select {
		case <-d.exited:
		default:
			_ = d.cmd.Process.Signal(syscall.SIGTERM) // it may have exited just now
			select {
			case <-d.exited:
			case <-time.After(10 * time.Second):
				_ = d.cmd.Process.Kill()
				<-d.exited
				errs = append(errs, errors.New("jumpcast serve did not stop on SIGTERM within 10s; killed"))
			}
		}
	}
	if d.target != nil {
		d.target.close()
	}
	if d.removeDir && d.Dir != "" {
		if err := os.RemoveAll(d.Dir); err != nil {
			errs = append(errs, fmt.Errorf("remove demo folder: %w", err))
		}
	}
	return errors.Join(errs...)
}

// Run starts the demo, prints how to use it to w, and runs until ctx ends
// (Ctrl-C) or jumpcast exits on its own; then it cleans up.
func Run(ctx context.Context, o Options, w io.Writer) error {
	d, err := Start(ctx, o)
	if err != nil {
		return err
	}
	d.Print(w)
	var exitErr error
	select {
	case <-ctx.Done():
		fmt.Fprintln(w, "\nstopping the demo...")
	case <-d.Exited():
		exitErr = fmt.Errorf("jumpcast serve exited (%v); its log:\n%s", d.waitErr, d.logTail())
	}
	return errors.Join(exitErr, d.Close())
}
