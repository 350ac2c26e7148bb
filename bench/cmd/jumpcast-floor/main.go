// Command jumpcast-floor is a benchmark reference, not a bastion: the least
// an SSH relay built on golang.org/x/crypto/ssh can do. It accepts the
// admin's connection (any key the config lists for any user), dials the
// target named in the login (USER@ALIAS), logs in with the identity file,
// and copies one session channel each way with io.Copy, forwarding
// requests and the exit status. No policy, no recording, no audit, no
// host-key check, no limits: never run it anywhere but a benchmark.
//
// Run it in place of jumpcast-norec to see how much of jumpcast's cost
// is x/crypto's two hops:
//
//	bin/jumpcast-bench -norec bin/jumpcast-floor -only echo
//
// It reads the same config file as the bastions the harness starts and
// prints the same welcome line.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"

	"github.com/jumpcast/jumpcast/config"
	gossh "golang.org/x/crypto/ssh"
)

func main() {
	cfgPath := flag.String("c", "", "config file (required)")
	flag.Parse()
	err := run(*cfgPath) // returns only when it cannot go on
	fmt.Fprintln(os.Stderr, "jumpcast-floor:", err)
	os.Exit(1)
}

// run serves until the listener fails; it never returns nil.
func run(cfgPath string) error {
	cfg, err := config.Load(cfgPath)
	if err != nil {
		return err
	}
	if len(cfg.SSH.HostKeys) == 0 || len(cfg.Upstream.IdentityFiles) == 0 {
		return errors.New("ssh.host_keys and upstream.identity_files must be set")
	}
	hostKey, err := loadSigner(cfg.SSH.HostKeys[0])
	if err != nil {
		return err
	}
	id, err := loadSigner(cfg.Upstream.IdentityFiles[0])
	if err != nil {
		return err
	}
	allowed := map[string]bool{}
	for _, u := range cfg.Users {
		for _, k := range u.Keys {
			if pk, _, _, _, err := gossh.ParseAuthorizedKey([]byte(k)); err == nil {
				allowed[string(pk.Marshal())] = true
			}
		}
	}
	srvCfg := &gossh.ServerConfig{PublicKeyCallback: func(_ gossh.ConnMetadata, k gossh.PublicKey) (*gossh.Permissions, error) {
		if allowed[string(k.Marshal())] {
			return nil, nil
		}
		return nil, errors.New("unknown key")
	}}
	srvCfg.AddHostKey(hostKey)
	ln, err := net.Listen("tcp", cfg.SSH.Listen)
	if err != nil {
		return err
	}
	fmt.Printf("jumpcast-floor: SSH on %s, web on off, data in %s\n", ln.Addr(), cfg.DataDir)
	for {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		go relay(c, srvCfg, cfg, id) // owner: the connection; ends when it closes
	}
}

// relay serves one admin connection: one target connection, its session
// channels copied both ways.
func relay(c net.Conn, srvCfg *gossh.ServerConfig, cfg *config.Config, id gossh.Signer) {
	defer func() { _ = c.Close() }()
	sc, chans, reqs, err := gossh.NewServerConn(c, srvCfg)
	if err != nil {
		return
	}
	go gossh.DiscardRequests(reqs) // owner: sc
	user, alias, _ := strings.Cut(sc.User(), "@")
	t, ok := cfg.Targets[alias]
	if !ok {
		return
	}
	up, err := gossh.Dial("tcp", t.Address, &gossh.ClientConfig{
		Config: gossh.Config{Ciphers: []string{gossh.CipherAES128GCM}}, // as jumpcast prefers with AES-NI
		User:   user, Auth: []gossh.AuthMethod{gossh.PublicKeys(id)},
		HostKeyCallback: gossh.InsecureIgnoreHostKey(), // a benchmark floor, see the package comment
	})
	if err != nil {
		return
	}
	defer func() { _ = up.Close() }()
	for nc := range chans {
		if nc.ChannelType() != "session" {
			_ = nc.Reject(gossh.UnknownChannelType, "sessions only")
			continue
		}
		go session(nc, up) // owner: the connection
	}
}

// session bridges one session channel.
func session(nc gossh.NewChannel, up *gossh.Client) {
	tch, treqs, err := up.OpenChannel("session", nil)
	if err != nil {
		_ = nc.Reject(gossh.ConnectionFailed, err.Error())
		return
	}
	ch, reqs, err := nc.Accept()
	if err != nil {
		_ = tch.Close()
		return
	}
	go func() { // owner: session; admin requests to the target
		for r := range reqs {
			ok, _ := tch.SendRequest(r.Type, r.WantReply, r.Payload)
			if r.WantReply {
				_ = r.Reply(ok, nil)
			}
		}
		_ = tch.Close()
	}()
	go func() { // owner: session; admin stdin to the target
		_, _ = io.Copy(tch, ch)
		_ = tch.CloseWrite()
	}()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); _, _ = io.Copy(ch, tch) }()                   // owner: session
	go func() { defer wg.Done(); _, _ = io.Copy(ch.Stderr(), tch.Stderr()) }() // owner: session
	var exits []*gossh.Request
	for r := range treqs {
		if r.Type == "exit-status" || r.Type == "exit-signal" {
			exits = append(exits, r)
		}
		if r.WantReply {
			_ = r.Reply(false, nil)
		}
	}
	wg.Wait()
	for _, r := range exits {
		_, _ = ch.SendRequest(r.Type, false, r.Payload)
	}
	_ = ch.CloseWrite()
	_ = ch.Close()
}

func loadSigner(path string) (gossh.Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return gossh.ParsePrivateKey(data)
}
