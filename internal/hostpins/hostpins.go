// Package hostpins keeps the target host keys trusted on first use
// (upstream.host_key_policy: tofu) in the index, where every node sharing
// it trusts the same key for an address. Index satisfies proxy.Pins;
// ImportFile moves the pin file of versions before that into the index.
package hostpins

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/jumpcast/jumpcast/store"
)

// Index keeps the pins in an index (bbolt or PostgreSQL).
type Index struct{ Index store.Index }

// PinnedKey returns addr's pinned key, or nil when it has none.
func (p Index) PinnedKey(ctx context.Context, addr string) (gossh.PublicKey, error) {
	pin, err := p.Index.HostKeyPin(ctx, addr)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, nil
	case err != nil:
		return nil, err
	}
	return parsePin(pin)
}

// Pin pins key for addr unless addr has a pin, and returns the pinned key
// and whether it was this call that pinned it.
func (p Index) Pin(ctx context.Context, addr string, key gossh.PublicKey) (gossh.PublicKey, bool, error) {
	want := store.HostKeyPin{Addr: addr, Key: key.Marshal(), Type: key.Type(), Created: time.Now().UTC()}
	got, err := p.Index.PinHostKey(ctx, want)
	if err != nil && !errors.Is(err, store.ErrPinConflict) {
		return nil, false, err
	}
	pinned, perr := parsePin(got)
	if perr != nil {
		return nil, false, perr
	}
	// The index returns the pin as stored: ours when it was new.
	return pinned, err == nil && got.Created.Equal(want.Created), nil
}

func parsePin(p store.HostKeyPin) (gossh.PublicKey, error) {
	k, err := gossh.ParsePublicKey(p.Key)
	if err != nil {
		return nil, fmt.Errorf("host key pin of %s: %w", p.Addr, err)
	}
	return k, nil
}

// ImportFile moves the pins of path, the known_hosts file in the data
// folder where versions before the index held them, into the index, once:
// the file is then renamed <path>.imported, and kept. A missing file is
// nothing to import. A pin the
// index already holds with another key stays as the index has it, with a
// warning (that is what every other node trusts).
func ImportFile(ctx context.Context, path string, ix store.Index, log *slog.Logger) error {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("host key pins: %w", err)
	}
	n := 0
	for rest := data; len(rest) > 0; {
		_, hosts, key, _, next, err := gossh.ParseKnownHosts(rest)
		if errors.Is(err, io.EOF) { // no more entries
			break
		}
		if err != nil {
			return fmt.Errorf("host key pins in %s: %w", path, err)
		}
		rest = next
		for _, h := range hosts {
			addr := pinAddr(h)
			got, err := ix.PinHostKey(ctx, store.HostKeyPin{Addr: addr, Key: key.Marshal(), Type: key.Type()})
			switch {
			case errors.Is(err, store.ErrPinConflict):
				log.Warn("host key pin not imported: the index pins another key for this address",
					"address", addr, "file_key", gossh.FingerprintSHA256(key), "index_type", got.Type)
			case err != nil:
				return fmt.Errorf("host key pins: %w", err)
			default:
				n++
			}
		}
	}
	if err := os.Rename(path, path+".imported"); err != nil {
		return fmt.Errorf("host key pins: %w", err)
	}
	log.Info("host key pins imported into the index", "file", path, "pins", n, "kept_as", path+".imported")
	return nil
}

// pinAddr turns a known_hosts host pattern as the pin file had it
// ("db1" for port 22, "[db1]:2222" otherwise) into the address the proxy
// dials ("db1:22", "db1:2222").
func pinAddr(h string) string {
	if host, port, err := net.SplitHostPort(h); err == nil && strings.HasPrefix(h, "[") {
		return net.JoinHostPort(host, port)
	}
	return net.JoinHostPort(h, "22")
}
