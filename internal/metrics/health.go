package metrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
)

// ProbeFile is the file each probe creates, writes one byte to and removes
// in every folder that must stay writable.
const ProbeFile = ".jumpcast-probe"

// Folder is a folder that must stay writable, with the name the probes
// use for it ("data folder").
type Folder struct {
	Name string
	Path string
}

// HealthOptions configure NewHealth. Every check is optional.
type HealthOptions struct {
	// Writable folders are checked by both probes: a bastion that cannot
	// write its index, host-key pins or recordings cannot do its job.
	Writable []Folder
	// Store answers when the index is open and readable (for example a
	// read of the schema version). Nil skips the check. Readiness only.
	Store func(ctx context.Context) error
	// FreeSpace reports the free bytes of the recordings file system. Nil
	// skips the check. Readiness only.
	FreeSpace func() (uint64, error)
	// MinFreeSpace is the floor under which the bastion is not ready
	// (recording.min_free_space: new sessions are refused under it). Zero
	// skips the check.
	MinFreeSpace uint64
	// Logger receives the detail of failed checks (the probes' answers
	// stay short). Nil discards it.
	Logger *slog.Logger
}

// Health answers the liveness (/healthz) and readiness (/readyz) probes.
// Probes are serialized by mu, which also guards failing.
type Health struct {
	o   HealthOptions
	log *slog.Logger

	mu      sync.Mutex
	failing string // the last failure reported, "" when healthy; logs only changes
}

// NewHealth returns the probes.
func NewHealth(o HealthOptions) *Health {
	h := &Health{o: o, log: o.Logger}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	return h
}

// Live reports whether the process can do its job at all: it answers (it
// is running this code) and every Writable folder takes a new file. The
// error's text is short and safe to show anonymously ("data folder not
// writable"); the detail goes to the log.
func (h *Health) Live(ctx context.Context) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.report(h.writable())
}

// Ready reports whether new sessions can be served: Live, plus the index
// answers and the recordings disk is above the free-space floor.
func (h *Health) Ready(ctx context.Context) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	err := h.writable()
	if err == nil && h.o.Store != nil {
		if serr := h.o.Store(ctx); serr != nil {
			err = &probeError{short: "index not answering", err: serr}
		}
	}
	if err == nil && h.o.FreeSpace != nil && h.o.MinFreeSpace > 0 {
		free, ferr := h.o.FreeSpace()
		switch {
		case ferr != nil:
			err = &probeError{short: "free space unknown", err: ferr}
		case free < h.o.MinFreeSpace:
			err = &probeError{short: "recordings disk below free-space floor",
				err: fmt.Errorf("%d bytes free, floor %d", free, h.o.MinFreeSpace)}
		}
	}
	return h.report(err)
}

// writable creates, writes and removes ProbeFile in each folder.
func (h *Health) writable() error {
	for _, f := range h.o.Writable {
		if err := probeWrite(f.Path); err != nil {
			return &probeError{short: f.Name + " not writable", err: err}
		}
	}
	return nil
}

func probeWrite(dir string) error {
	p := filepath.Join(dir, ProbeFile)
	fh, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, werr := fh.Write([]byte{'\n'})
	cerr := fh.Close()
	rerr := os.Remove(p)
	return errors.Join(werr, cerr, rerr)
}

// report logs a change of state and returns err.
func (h *Health) report(err error) error {
	now := ""
	if err != nil {
		now = err.Error()
	}
	if now != h.failing {
		if err != nil {
			h.log.Warn("health check failing", "check", now, "err", errors.Unwrap(err))
		} else {
			h.log.Info("health checks pass again", "was", h.failing)
		}
		h.failing = now
	}
	return err
}

// probeError is a failed check: short is what the probe answers, err the
// detail for the log.
type probeError struct {
	short string
	err   error
}

func (e *probeError) Error() string { return e.short }
func (e *probeError) Unwrap() error { return e.err }

// ProbeHandler answers 200 "ok" when check passes and 503 with the
// check's short reason when it fails.
func ProbeHandler(check func(context.Context) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		if err := check(r.Context()); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = fmt.Fprintf(w, "unhealthy: %s\n", err)
			return
		}
		_, _ = fmt.Fprint(w, "ok\n")
	})
}

// OpsHandler is the unauthenticated operations listener (metrics.listen):
// GET /metrics, /healthz and /readyz, nothing else. It is meant for
// loopback or a private scrape network.
func OpsHandler(m *Metrics, h *Health) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	mux.Handle("GET /healthz", ProbeHandler(h.Live))
	mux.Handle("GET /readyz", ProbeHandler(h.Ready))
	return mux
}
