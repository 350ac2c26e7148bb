package cluster

import (
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/jumpcast/jumpcast/internal/recording"
)

// The internal routes. {id} is a recording id (recording.ValidID).
const (
	livePath = "/cluster/v1/sessions/{id}/live" // GET: the session as Server-Sent Events
	endPath  = "/cluster/v1/sessions/{id}/end"  // POST by, why, scope=connection: end it
)

// maxEndForm bounds an end request's form, in bytes.
const maxEndForm = 4 << 10

// ErrNotRunning is what Routes.End returns, and Client.End reports, when
// the node has no running session with that id.
var ErrNotRunning = errors.New("no live session with this id on its node")

// Routes is the work the internal routes do on the node that records the
// session. Both are required.
type Routes struct {
	// Live streams the running session id to w as the web site's live
	// view does (Server-Sent Events, header first, a "done" event when it
	// ends); it returns when the session or the request ends.
	Live func(w http.ResponseWriter, r *http.Request, id string)
	// End ends the running session id, or with whole its admin
	// connection, on behalf of by ("auditor carol"), telling the admin
	// why. It returns ErrNotRunning (or an error wrapping it) when there
	// is no such session here.
	End func(id, by, why string, whole bool) error
}

// Handler serves the internal routes for the nodes that know secret. A
// request without the secret, or with another one, gets 401 and nothing
// else; so does every path that is not an internal route.
func Handler(secret []byte, rt Routes, log *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+livePath, func(w http.ResponseWriter, r *http.Request) {
		if id, ok := pathID(w, r); ok {
			rt.Live(w, r, id)
		}
	})
	mux.HandleFunc("POST "+endPath, func(w http.ResponseWriter, r *http.Request) {
		id, ok := pathID(w, r)
		if !ok {
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxEndForm)
		if err := r.ParseForm(); err != nil {
			http.Error(w, "bad form", http.StatusBadRequest)
			return
		}
		err := rt.End(id, r.PostForm.Get("by"), r.PostForm.Get("why"), r.PostForm.Get("scope") == "connection")
		switch {
		case errors.Is(err, ErrNotRunning):
			http.Error(w, ErrNotRunning.Error(), http.StatusConflict)
		case err != nil:
			log.Warn("cluster: end session", "session_id", id, "err", err)
			http.Error(w, "could not end the session", http.StatusInternalServerError)
		default:
			w.WriteHeader(http.StatusNoContent)
		}
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || !sameSecret([]byte(token), secret) {
			log.Warn("cluster: refused a call without the cluster secret", "remote_addr", r.RemoteAddr, "path", r.URL.Path)
			w.Header().Set("WWW-Authenticate", `Bearer realm="jumpcast cluster"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// pathID is the route's recording id, or a 400 answered when it is not one.
func pathID(w http.ResponseWriter, r *http.Request) (string, bool) {
	id := r.PathValue("id")
	if !recording.ValidID(id) {
		http.Error(w, "bad id", http.StatusBadRequest)
		return "", false
	}
	return id, true
}
