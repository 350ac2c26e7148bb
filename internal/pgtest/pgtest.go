// Package pgtest runs a real PostgreSQL server for tests, from Debian's
// postgresql package: initdb into a temporary folder, then postgres on a
// free loopback port with its unix socket in that folder. PostgreSQL
// refuses to run as root, so when the test runs as root the server runs as
// the unprivileged user nobody (a folder it owns); it is stopped by its
// process id at cleanup.
//
// One cluster serves a whole test binary (Main starts it lazily and stops
// it when the tests end) and each test gets a fresh database of its own
// (DSN), which keeps a package's tests at a few hundred milliseconds of
// set-up. A test that restarts PostgreSQL starts a private Server.
//
// Typical use:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
//	func TestX(t *testing.T) {
//		dsn := pgtest.DSN(t) // skips when PostgreSQL is not installed
//		...
//	}
package pgtest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/jumpcast/jumpcast/internal/sshtest"
)

// User is the superuser initdb creates; the servers trust every local
// and loopback connection (they listen on 127.0.0.1 and a private socket
// only).
const User = "jumpcast"

// nobody is the unprivileged user the server runs as when the test runs
// as root.
const nobody = 65534

// BinDir returns the folder of the newest installed PostgreSQL server
// (/usr/lib/postgresql/<major>/bin), or "" when none is installed.
func BinDir() string {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin/postgres")
	sort.Slice(dirs, func(i, j int) bool { return major(dirs[i]) < major(dirs[j]) })
	if len(dirs) == 0 {
		return ""
	}
	return filepath.Dir(dirs[len(dirs)-1])
}

func major(postgresPath string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(postgresPath))))
	return n
}

// Require skips t when PostgreSQL is not installed, or fails it when
// JUMPCAST_REQUIRE_REAL=1, and returns the server's bin folder.
func Require(t testing.TB) string {
	t.Helper()
	dir := BinDir()
	if dir == "" {
		dir = "/usr/lib/postgresql/NN/bin"
	}
	sshtest.RequireBinary(t, filepath.Join(dir, "initdb"), filepath.Join(dir, "postgres"))
	return dir
}

// Server is one PostgreSQL cluster. Its methods are safe for concurrent
// use; Stop and Start are for tests that restart the database under a
// running jumpcast.
type Server struct {
	// Dir is the cluster's folder: data/, the socket and postgres.log.
	Dir string
	// Port is the loopback TCP port; it stays the same across restarts.
	Port int

	bin string
	mu  sync.Mutex // guards cmd
	cmd *exec.Cmd  // the running postgres; nil when stopped
}

// NewServer starts a private cluster for t and stops it at t's cleanup.
func NewServer(t testing.TB) *Server {
	t.Helper()
	s, err := start(Require(t), "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// StartAt starts a cluster whose folder is dir, creating it (initdb) when
// it holds none yet; the caller stops it with Close, which keeps the
// folder. Benchmarks use it to keep a large database between runs.
func StartAt(bin, dir string) (*Server, error) { return start(bin, dir) }

func start(bin, dir string) (*Server, error) {
	keep := dir != ""
	if !keep {
		var err error
		if dir, err = os.MkdirTemp("", "jumpcast-pg-"); err != nil {
			return nil, err
		}
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	// The server's user must reach its folder through the parents.
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, err
	}
	s := &Server{Dir: dir, bin: bin}
	fail := func(err error) (*Server, error) {
		if !keep {
			_ = os.RemoveAll(dir)
		}
		return nil, fmt.Errorf("pgtest: %w\n%s", err, s.Log())
	}
	if _, err := os.Stat(filepath.Join(dir, "data", "PG_VERSION")); err != nil {
		if err := s.initdb(); err != nil {
			return fail(err)
		}
	}
	port, err := loadOrPickPort(dir)
	if err != nil {
		return fail(err)
	}
	s.Port = port
	if err := s.Start(); err != nil {
		return fail(err)
	}
	return s, nil
}

// initdb creates the cluster: UTF-8 with the C.UTF-8 locale (so lower()
// folds non-ASCII letters), trust authentication, owned by the server's
// user.
func (s *Server) initdb() error {
	data := filepath.Join(s.Dir, "data")
	if err := os.MkdirAll(data, 0o700); err != nil {
		return err
	}
	if err := s.own(s.Dir, data); err != nil {
		return err
	}
	cmd := s.command(filepath.Join(s.bin, "initdb"), "-D", data, "-U", User, "--auth=trust",
		"--encoding=UTF8", "--locale=C.UTF-8", "--no-sync")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("initdb: %v: %s", err, out)
	}
	return nil
}

// loadOrPickPort keeps a cluster on the port it first had (a kept folder
// is reused), else picks a free one.
func loadOrPickPort(dir string) (int, error) {
	file := filepath.Join(dir, "port")
	if b, err := os.ReadFile(file); err == nil {
		if p, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			if ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p))); err == nil {
				_ = ln.Close()
				return p, nil
			}
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	p := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	return p, os.WriteFile(file, []byte(strconv.Itoa(p)), 0o644)
}

// Start runs postgres on the cluster and waits until it takes
// connections. Durability is off (fsync, synchronous_commit): a test
// database is thrown away, not recovered.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return nil
	}
	logf, err := os.OpenFile(filepath.Join(s.Dir, "postgres.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o666)
	if err != nil {
		return err
	}
	defer func() { _ = logf.Close() }()
	_ = os.Chmod(logf.Name(), 0o666)
	cmd := s.command(filepath.Join(s.bin, "postgres"), "-D", filepath.Join(s.Dir, "data"),
		"-p", strconv.Itoa(s.Port), "-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="+s.Dir,
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "max_connections=300", "-c", "shared_buffers=256MB", "-c", "log_min_messages=warning")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start postgres: %w", err)
	}
	s.cmd = cmd
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			s.cmd = nil
			return fmt.Errorf("postgres exited at start: %v", err)
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		c, err := pgx.Connect(ctx, s.dsn("postgres"))
		cancel()
		if err == nil {
			_ = c.Close(context.Background())
			go func() { <-exited }() // reaped by Stop's wait on the process
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("postgres did not take connections on port %d within 30 s", s.Port)
}

// Stop shuts postgres down (fast shutdown: open connections are closed)
// and waits for it to exit. Stop on a stopped server does nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	p := s.cmd.Process
	s.cmd = nil
	_ = p.Signal(syscall.SIGINT)
	for i := 0; i < 300; i++ { // the postmaster's pid answers signal 0 until it is reaped
		if err := p.Signal(syscall.Signal(0)); err != nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	_ = p.Kill()
}

// Close stops the server and removes its folder, unless it was started
// with StartAt.
func (s *Server) Close() {
	s.Stop()
	if strings.HasPrefix(filepath.Base(s.Dir), "jumpcast-pg-") {
		_ = os.RemoveAll(s.Dir)
	}
}

// Log returns what postgres wrote to its log so far.
func (s *Server) Log() string {
	b, _ := os.ReadFile(filepath.Join(s.Dir, "postgres.log"))
	return string(b)
}

// dsn is the URL of database db over loopback TCP.
func (s *Server) dsn(db string) string {
	return fmt.Sprintf("postgres://%s@127.0.0.1:%d/%s?sslmode=disable", User, s.Port, db)
}

// AdminDSN is the URL of the maintenance database "postgres".
func (s *Server) AdminDSN() string { return s.dsn("postgres") }

var dbSeq atomic.Int64

// NewDatabase creates a fresh, empty database for t, drops it at t's
// cleanup, and returns its URL.
func (s *Server) NewDatabase(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("t%d_%d", os.Getpid(), dbSeq.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.exec(ctx, "CREATE DATABASE "+name+" TEMPLATE template0 ENCODING 'UTF8' LOCALE 'C.UTF-8'"); err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := s.exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Logf("pgtest: drop database %s: %v", name, err)
		}
	})
	return s.dsn(name)
}

func (s *Server) exec(ctx context.Context, sql string) error {
	c, err := pgx.Connect(ctx, s.AdminDSN())
	if err != nil {
		return err
	}
	defer func() { _ = c.Close(context.Background()) }()
	_, err = c.Exec(ctx, sql)
	return err
}

// command runs path as the server's user: nobody when we are root.
func (s *Server) command(path string, args ...string) *exec.Cmd {
	cmd := exec.Command(path, args...)
	cmd.Dir = s.Dir
	cmd.Env = []string{"PATH=/usr/bin:/bin", "LC_ALL=C.UTF-8"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if os.Geteuid() == 0 {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: nobody, Gid: nobody}
	}
	return cmd
}

// own gives paths to the server's user when we are root.
func (s *Server) own(paths ...string) error {
	if os.Geteuid() != 0 {
		return nil
	}
	for _, p := range paths {
		if err := os.Chown(p, nobody, nobody); err != nil {
			return err
		}
	}
	return nil
}

// shared is the cluster of the test binary (Main).
var shared struct {
	once sync.Once
	srv  *Server
	err  error
}

// Main runs the tests of a package that uses DSN, stops the shared
// cluster and exits. Call it from TestMain.
func Main(m *testing.M) { os.Exit(Run(m)) }

// Run is Main for a TestMain that has more to do: it runs the tests,
// stops the shared cluster and returns m.Run's exit code.
func Run(m *testing.M) int {
	code := m.Run()
	if shared.srv != nil {
		shared.srv.Close()
	}
	return code
}

// Shared returns the test binary's cluster, starting it at the first
// call (skipping t when PostgreSQL is missing; see Require). The package
// must run its tests through Main, which stops it.
func Shared(t testing.TB) *Server {
	t.Helper()
	bin := Require(t)
	shared.once.Do(func() { shared.srv, shared.err = start(bin, "") })
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.srv
}

// DSN returns the URL of a fresh database on the shared cluster, dropped
// at t's cleanup.
func DSN(t testing.TB) string {
	t.Helper()
	return Shared(t).NewDatabase(t)
}
