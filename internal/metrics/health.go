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
	"time"
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
	// Spool reports the bytes in the recordings spool (storage s3). Nil
	// skips the check. Readiness only: over SpoolAlert the node is not
	// ready, so that a balancer sends new sessions elsewhere while its
	// uploads lag.
	Spool      func() (int64, error)
	SpoolAlert int64
	// Logger receives the detail of failed checks (the probes' answers
	// stay short). Nil discards it.
	Logger *slog.Logger
	// Reuse is how long a probe's answer is reused, so that anonymous
	// callers hammering /healthz cannot turn it into disk writes. Zero
	// checks on every call.
	Reuse time.Duration
}

// Health answers the liveness (/healthz) and readiness (/readyz) probes.
// Probes are serialized by mu, which also guards the fields below it.
type Health struct {
	o   HealthOptions
	log *slog.Logger

	mu    sync.Mutex
	live  answer
	ready answer
}

// answer is a probe's last answer and when it was computed.
type answer struct {
	probe string // "healthz" or "readyz", for the log
	at    time.Time
	err   error
}

// reuse returns a's answer if it is fresh, else checks again, logs a
// change between passing and failing (or of the failure), and keeps the
// new answer. Called with mu held.
func (h *Health) reuse(a *answer, check func() error) error {
	now := time.Now()
	if h.o.Reuse > 0 && !a.at.IsZero() && now.Sub(a.at) < h.o.Reuse {
		return a.err
	}
	err := check()
	switch was := errText(a.err); {
	case err != nil && err.Error() != was:
		h.log.Warn("health check failing", "probe", a.probe, "check", err.Error(), "err", errors.Unwrap(err))
	case err == nil && a.err != nil:
		h.log.Info("health check passes again", "probe", a.probe, "was", was)
	}
	a.at, a.err = now, err
	return err
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// NewHealth returns the probes.
func NewHealth(o HealthOptions) *Health {
	h := &Health{o: o, log: o.Logger, live: answer{probe: "healthz"}, ready: answer{probe: "readyz"}}
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
	return h.reuse(&h.live, h.writable)
}

// Ready reports whether new sessions can be served: Live, plus the index
// answers and the recordings disk is above the free-space floor.
func (h *Health) Ready(ctx context.Context) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.reuse(&h.ready, func() error { return h.ready0(ctx) })
}

func (h *Health) ready0(ctx context.Context) error {
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
	if err == nil && h.o.Spool != nil && h.o.SpoolAlert > 0 {
		n, serr := h.o.Spool()
		switch {
		case serr != nil:
			err = &probeError{short: "spool unreadable", err: serr}
		case n > h.o.SpoolAlert:
			err = &probeError{short: "spool filling: recordings wait for the bucket",
				err: fmt.Errorf("%d bytes in the spool, alert at %d", n, h.o.SpoolAlert)}
		}
	}
	return err
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
