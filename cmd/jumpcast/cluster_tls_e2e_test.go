package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// clusterCA writes a throw-away cluster authority and one certificate for
// 127.0.0.1 signed by it; it returns the cluster keys that use them.
func clusterCA(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "jumpcast cluster CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "node"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, typ string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	return fmt.Sprintf("  tls_cert: %q\n  tls_key: %q\n  ca_file: %q\n",
		write("node.crt", "CERTIFICATE", der), write("node.key", "EC PRIVATE KEY", keyDER), write("ca.crt", "CERTIFICATE", caDER))
}

// TestClusterOverTLS: with a cluster certificate, nodes advertise https://,
// node C ends a session of node B's over TLS, and the internal listener
// does not speak plain HTTP.
func TestClusterOverTLS(t *testing.T) {
	tc := startClusterWith(t, 0, clusterCA(t), "node-b", "node-c")
	b, c := tc.nodes["node-b"], tc.nodes["node-c"]
	base := tc.internalURL(t, "node-b")
	if !strings.HasPrefix(base, "https://127.0.0.1:") {
		t.Fatalf("node B advertises %q, want https://", base)
	}
	res, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + strings.TrimPrefix(base, "https://") + "/cluster/v1/sessions/x/live")
	if err == nil {
		_ = res.Body.Close()
		if res.StatusCode != http.StatusBadRequest {
			t.Errorf("plain HTTP to the TLS listener: %d, want 400", res.StatusCode)
		}
	}
	live := b.startLiveSSH(t, b.login(), "printf 'over-tls\\n'; sleep 60")
	waitOutput(t, live, "over-tls")
	id := activeID(t, c.cfgPath)
	if out, errOut, code := runJumpcast(t, "", "recordings", "end", id, "--reason", "tls works", "-c", c.cfgPath); code != 0 {
		t.Fatalf("recordings end on C: exit %d %q %q", code, out, errOut)
	}
	if code := live.waitExit(t); code != 255 || !strings.Contains(live.out.String(), "tls works") {
		t.Errorf("ssh on B: exit %d %q", code, live.out.String())
	}
}
