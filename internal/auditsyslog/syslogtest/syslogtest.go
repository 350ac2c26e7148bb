// Package syslogtest runs a real rsyslogd on loopback as a syslog
// collector for tests, over TCP or TLS (rsyslog's gtls driver), writing
// each message's MSGID and text to a file.
package syslogtest

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jumpcast/jumpcast/internal/audit"
	"github.com/jumpcast/jumpcast/internal/sshtest"
)

// Rsyslogd is the collector's binary (Debian's rsyslog; TLS needs
// rsyslog-gnutls).
const Rsyslogd = "/usr/sbin/rsyslogd"

// Collector is a real rsyslogd listening on loopback, writing each
// message's MSGID and text to a file.
type Collector struct {
	Addr string // host:port it listens on
	out  string
	stop func()
}

// TLSFiles are PEM files of a CA and of a certificate and key for
// 127.0.0.1 signed by it.
type TLSFiles struct{ CA, Cert, Key string }

// FreePort is a loopback address nobody listens on (yet).
func FreePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// StartCollector starts rsyslogd on addr (TLS when files is set); it is
// stopped by PID at cleanup.
func StartCollector(t *testing.T, addr string, files *TLSFiles) *Collector {
	t.Helper()
	sshtest.RequireBinary(t, Rsyslogd)
	dir := t.TempDir()
	_, port, _ := net.SplitHostPort(addr)
	out := filepath.Join(dir, "out.log")
	var conf strings.Builder
	fmt.Fprintf(&conf, "global(workDirectory=%q", dir)
	if files != nil {
		fmt.Fprintf(&conf, " DefaultNetstreamDriver=\"gtls\" DefaultNetstreamDriverCAFile=%q DefaultNetstreamDriverCertFile=%q DefaultNetstreamDriverKeyFile=%q",
			files.CA, files.Cert, files.Key)
	}
	conf.WriteString(")\n")
	if files != nil {
		conf.WriteString(`module(load="imtcp" StreamDriver.Name="gtls" StreamDriver.Mode="1" StreamDriver.Authmode="anon")` + "\n")
	} else {
		conf.WriteString(`module(load="imtcp")` + "\n")
	}
	fmt.Fprintf(&conf, "input(type=\"imtcp\" address=\"127.0.0.1\" port=%q)\n", port)
	conf.WriteString(`template(name="raw" type="string" string="%msgid% %msg%\n")` + "\n")
	fmt.Fprintf(&conf, "*.* action(type=\"omfile\" file=%q template=\"raw\")\n", out)
	cfg := filepath.Join(dir, "rsyslog.conf")
	if err := os.WriteFile(cfg, []byte(conf.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(Rsyslogd, "-n", "-f", cfg, "-i", filepath.Join(dir, "rsyslogd.pid"))
	var stderr sshtest.SyncBuffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
			_ = cmd.Wait()
		}
	}
	t.Cleanup(stop)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			_ = c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("rsyslogd did not listen on %s:\n%s", addr, stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return &Collector{Addr: addr, out: out, stop: stop}
}

// Received waits until the collector wrote n messages (at most 15 s)
// and returns their MSGIDs and events.
func (c *Collector) Received(t *testing.T, n int) ([]string, []audit.Event) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		ids, evs := c.Read(t)
		if len(evs) >= n || time.Now().After(deadline) {
			return ids, evs
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Read returns what the collector wrote so far.
func (c *Collector) Read(t *testing.T) ([]string, []audit.Event) {
	f, err := os.Open(c.out)
	if err != nil {
		return nil, nil
	}
	defer f.Close()
	var ids []string
	var evs []audit.Event
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		id, msg, _ := strings.Cut(sc.Text(), " ")
		var ev audit.Event
		if err := json.Unmarshal([]byte(strings.TrimSpace(msg)), &ev); err != nil {
			t.Fatalf("collector got a message that is not an event's JSON: %q", sc.Text())
		}
		ids, evs = append(ids, id), append(evs, ev)
	}
	return ids, evs
}

// MakeTLSFiles writes a CA and a server certificate for 127.0.0.1 and
// returns them with a pool holding the CA.
func MakeTLSFiles(t *testing.T) (*TLSFiles, *x509.CertPool) {
	t.Helper()
	dir := t.TempDir()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	f := &TLSFiles{CA: filepath.Join(dir, "ca.pem"), Cert: filepath.Join(dir, "cert.pem"), Key: filepath.Join(dir, "key.pem")}
	for path, block := range map[string]*pem.Block{f.CA: {Type: "CERTIFICATE", Bytes: caDER},
		f.Cert: {Type: "CERTIFICATE", Bytes: der}, f.Key: {Type: "EC PRIVATE KEY", Bytes: keyDER}} {
		if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return f, pool
}
