package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/pprof"
	"net/url"
	"os"
	"strconv"
	"time"

	"github.com/jumpcast/jumpcast/internal/audit"
	"github.com/jumpcast/jumpcast/internal/lock"
	"github.com/jumpcast/jumpcast/internal/recording"
	"github.com/jumpcast/jumpcast/store"
)

// The admin socket is a unix socket in the data folder (0600 in a 0700
// folder: only the server's own user reaches it). It serves the CLI's data
// commands while `jumpcast serve` holds the bbolt lock.

func (p *program) listenAdmin() error {
	sock := socketPath(p.cfg)
	// A socket left by a killed server would make Listen fail; a live server
	// would have answered, and the store lock already proved none runs.
	if err := os.Remove(sock); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("admin socket: %w", err)
	}
	l, err := net.Listen("unix", sock)
	if err != nil {
		return fmt.Errorf("admin socket: %w", err)
	}
	if err := os.Chmod(sock, 0o600); err != nil {
		_ = l.Close()
		return fmt.Errorf("admin socket: %w", err)
	}
	p.adminLn = l
	b := &localBackend{st: p.bastion.Store, dir: p.bastion.Dir, files: p.bastion.Files, end: p.ender(false),
		endConn: p.ender(true), locks: p.locks, audit: p.bastion.Audit}
	if p.webLn != nil { // the real port, also when web.listen asked for :0
		b.web = webURLFor(p.webLn.Addr().String(), p.cfg.Web.TLSCert != "")
	}
	p.admin = &http.Server{Handler: adminHandler(b), ReadHeaderTimeout: 10 * time.Second}
	return nil
}

func adminHandler(b backend) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /recordings", func(w http.ResponseWriter, r *http.Request) {
		f, err := filterFromQuery(r.URL.Query())
		if err != nil {
			writeAdminErr(w, err)
			return
		}
		page, err := b.ListRecordings(r.Context(), f)
		writeAdminJSON(w, page, err)
	})
	mux.HandleFunc("GET /recordings/{id}", func(w http.ResponseWriter, r *http.Request) {
		rec, err := b.GetRecording(r.Context(), r.PathValue("id"))
		writeAdminJSON(w, rec, err)
	})
	mux.HandleFunc("POST /recordings/{id}/verify", func(w http.ResponseWriter, r *http.Request) {
		res, err := b.Verify(r.Context(), r.PathValue("id"))
		writeAdminJSON(w, res, err)
	})
	mux.HandleFunc("POST /recordings/{id}/compact", func(w http.ResponseWriter, r *http.Request) {
		res, err := b.Compact(r.Context(), r.PathValue("id"))
		writeAdminJSON(w, res, err)
	})
	mux.HandleFunc("GET /info", func(w http.ResponseWriter, r *http.Request) {
		u, err := b.WebURL(r.Context())
		writeAdminJSON(w, serverInfo{WebURL: u}, err)
	})
	mux.HandleFunc("POST /recordings/{id}/end", func(w http.ResponseWriter, r *http.Request) {
		writeAdminJSON(w, struct{}{}, b.EndSession(r.Context(), r.PathValue("id"), r.FormValue("reason"), r.FormValue("connection") == "1"))
	})
	mux.HandleFunc("GET /recordings/{id}/cast", func(w http.ResponseWriter, r *http.Request) {
		from, err := parseFrom(r.FormValue("from"))
		if err != nil {
			writeAdminErr(w, err)
			return
		}
		rc, err := b.Cast(r.Context(), r.PathValue("id"), from)
		if err != nil {
			writeAdminErr(w, err)
			return
		}
		defer func() { _ = rc.Close() }()
		w.Header().Set("Content-Type", "application/x-asciicast")
		_, _ = io.Copy(w, rc)
	})
	mux.HandleFunc("PUT /auditors/{name}", func(w http.ResponseWriter, r *http.Request) {
		var a store.Account
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&a); err != nil {
			writeAdminErr(w, err)
			return
		}
		a.Name = r.PathValue("name")
		writeAdminJSON(w, struct{}{}, b.PutAccount(r.Context(), a))
	})
	mux.HandleFunc("GET /auditors", func(w http.ResponseWriter, r *http.Request) {
		as, err := b.ListAccounts(r.Context())
		writeAdminJSON(w, as, err)
	})
	mux.HandleFunc("DELETE /auditors/{name}", func(w http.ResponseWriter, r *http.Request) {
		writeAdminJSON(w, struct{}{}, b.DeleteAccount(r.Context(), r.PathValue("name")))
	})
	mux.HandleFunc("DELETE /auditors/{name}/mfa", func(w http.ResponseWriter, r *http.Request) {
		writeAdminJSON(w, struct{}{}, b.ResetSecondFactor(r.Context(), r.PathValue("name")))
	})
	mux.HandleFunc("POST /tokens", func(w http.ResponseWriter, r *http.Request) {
		tc, err := b.CreateToken(r.Context(), r.FormValue("owner"), r.FormValue("name"))
		writeAdminJSON(w, tc, err)
	})
	mux.HandleFunc("GET /tokens", func(w http.ResponseWriter, r *http.Request) {
		ts, err := b.ListTokens(r.Context())
		writeAdminJSON(w, ts, err)
	})
	mux.HandleFunc("DELETE /tokens/{id}", func(w http.ResponseWriter, r *http.Request) {
		writeAdminJSON(w, struct{}{}, b.DeleteToken(r.Context(), r.PathValue("id")))
	})
	mux.HandleFunc("GET /audit", func(w http.ResponseWriter, r *http.Request) {
		f, err := auditFilterFromQuery(r.URL.Query())
		if err != nil {
			writeAdminErr(w, err)
			return
		}
		page, err := b.ListAudit(r.Context(), f)
		writeAdminJSON(w, page, err)
	})
	mux.HandleFunc("PUT /locks", func(w http.ResponseWriter, r *http.Request) {
		var l lock.Lock
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&l); err != nil {
			writeAdminErr(w, err)
			return
		}
		made, err := b.CreateLock(r.Context(), l)
		writeAdminJSON(w, made, err)
	})
	mux.HandleFunc("GET /nodes", func(w http.ResponseWriter, r *http.Request) {
		ns, err := b.ListNodes(r.Context())
		writeAdminJSON(w, ns, err)
	})
	mux.HandleFunc("GET /hostkeys", func(w http.ResponseWriter, r *http.Request) {
		ps, err := b.HostKeyPins(r.Context())
		writeAdminJSON(w, ps, err)
	})
	mux.HandleFunc("DELETE /hostkeys/{addr}", func(w http.ResponseWriter, r *http.Request) {
		p, err := b.ForgetHostKeyPin(r.Context(), r.PathValue("addr"))
		writeAdminJSON(w, p, err)
	})
	mux.HandleFunc("GET /locks", func(w http.ResponseWriter, r *http.Request) {
		ls, err := b.ListLocks(r.Context())
		writeAdminJSON(w, ls, err)
	})
	mux.HandleFunc("DELETE /locks/{id}", func(w http.ResponseWriter, r *http.Request) {
		l, err := b.RemoveLock(r.Context(), r.PathValue("id"))
		writeAdminJSON(w, l, err)
	})
	// Profiles for operators and the benchmark harness: on the admin socket
	// only (0600, the server's own user), never on a network listener.
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("GET /backup", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		_, _ = b.Backup(r.Context(), w)
	})
	return mux
}

// serverInfo is GET /info on the admin socket.
type serverInfo struct {
	WebURL string `json:"web_url"`
}

func writeAdminJSON(w http.ResponseWriter, v any, err error) {
	if err != nil {
		writeAdminErr(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func writeAdminErr(w http.ResponseWriter, err error) {
	code := http.StatusBadRequest
	if errors.Is(err, store.ErrNotFound) {
		code = http.StatusNotFound
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
}

// filterToQuery and filterFromQuery carry a store.Filter over the socket.
func filterToQuery(f store.Filter) url.Values {
	q := url.Values{}
	set := func(k, v string) {
		if v != "" {
			q.Set(k, v)
		}
	}
	set("user", f.User)
	set("target", f.Target)
	set("remote_user", f.RemoteUser)
	set("status", string(f.Status))
	set("text", f.Text)
	set("sort", f.Sort)
	set("cursor", f.Cursor)
	if f.Asc {
		q.Set("asc", "1")
	}
	if !f.Since.IsZero() {
		q.Set("since", f.Since.UTC().Format(time.RFC3339Nano))
	}
	if !f.Until.IsZero() {
		q.Set("until", f.Until.UTC().Format(time.RFC3339Nano))
	}
	if f.Limit > 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	return q
}

func filterFromQuery(q url.Values) (store.Filter, error) {
	f := store.Filter{
		User: q.Get("user"), Target: q.Get("target"), RemoteUser: q.Get("remote_user"),
		Status: recording.Status(q.Get("status")), Text: q.Get("text"), Sort: q.Get("sort"), Cursor: q.Get("cursor"),
		Asc: q.Get("asc") == "1",
	}
	var err error
	if f.Since, err = parseTimeParam(q.Get("since")); err != nil {
		return f, err
	}
	if f.Until, err = parseTimeParam(q.Get("until")); err != nil {
		return f, err
	}
	if s := q.Get("limit"); s != "" {
		if f.Limit, err = strconv.Atoi(s); err != nil {
			return f, fmt.Errorf("limit: %w", err)
		}
	}
	return f, nil
}

func auditFilterFromQuery(q url.Values) (store.AuditFilter, error) {
	f := store.AuditFilter{Kind: audit.Kind(q.Get("kind")), User: q.Get("user"), Cursor: q.Get("cursor")}
	var err error
	if f.Since, err = parseTimeParam(q.Get("since")); err != nil {
		return f, err
	}
	if f.Until, err = parseTimeParam(q.Get("until")); err != nil {
		return f, err
	}
	if s := q.Get("limit"); s != "" {
		if f.Limit, err = strconv.Atoi(s); err != nil {
			return f, fmt.Errorf("limit: %w", err)
		}
	}
	return f, nil
}

func parseTimeParam(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return t, fmt.Errorf("time %q: %w", s, err)
	}
	return t, nil
}

// remoteBackend is the CLI's side of the admin socket.
type remoteBackend struct {
	hc *http.Client
}

func newRemoteBackend(sock string) *remoteBackend {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		},
	}
	return &remoteBackend{hc: &http.Client{Transport: tr}}
}

func (b *remoteBackend) Close() error { b.hc.CloseIdleConnections(); return nil }

// do sends one request to the admin socket; out, when non-nil, receives the
// JSON answer.
func (b *remoteBackend) do(ctx context.Context, method, path string, body io.Reader, out any) error {
	resp, err := b.send(ctx, method, path, body)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	if out == nil {
		return nil
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

func (b *remoteBackend) send(ctx context.Context, method, path string, body io.Reader) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, "http://jumpcast"+path, body)
	if err != nil {
		return nil, err
	}
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := b.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("admin socket: %w", err)
	}
	if resp.StatusCode >= 300 {
		defer func() { _ = resp.Body.Close() }()
		var e struct{ Error string }
		_ = json.NewDecoder(resp.Body).Decode(&e)
		if resp.StatusCode == http.StatusNotFound {
			return nil, fmt.Errorf("%s: %w", e.Error, store.ErrNotFound)
		}
		return nil, errors.New(e.Error)
	}
	return resp, nil
}
