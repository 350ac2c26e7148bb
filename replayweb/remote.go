package replayweb

import (
	"context"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/jumpcast/jumpcast/internal/audit"
	"github.com/jumpcast/jumpcast/internal/cluster"
	"github.com/jumpcast/jumpcast/internal/recording"
)

// RemoteLive opens the live stream of a session that another node records
// (*cluster.Client satisfies it): Server-Sent Events as liveEvents writes
// them, copied to the browser unchanged. An error that is a
// *cluster.NodeError carries the line the auditor is shown.
type RemoteLive interface {
	Live(ctx context.Context, node, id string) (io.ReadCloser, error)
}

// remoteNode is the node that records rec when rec is running on another
// node this site reaches (Options.Remote), else "".
func (s *Server) remoteNode(rec *recording.Meta) string {
	if s.o.Remote == nil || rec.Status != recording.StatusActive || rec.Node == "" || rec.Node == s.o.Node {
		return ""
	}
	return rec.Node
}

// remoteIdle bounds how long a forwarded live stream may stay silent: the
// owner sends a keep-alive every keepAlive, so a longer silence is a node
// gone without closing its connection.
const remoteIdle = 2*keepAlive + 5*time.Second

// liveRemote is liveEvents for a session on node: the browser keeps
// talking to this node, which copies the owner's stream. When the owner
// cannot be reached the browser gets 502 and one line naming the node.
func (s *Server) liveRemote(c echo.Context, rec *recording.Meta, node string) error {
	ctx, cancel := context.WithCancel(c.Request().Context())
	defer cancel()
	body, err := s.o.Remote.Live(ctx, node, rec.ID)
	if err != nil {
		return nodeHTTPError(s, rec, err)
	}
	defer func() { _ = body.Close() }()
	if err := s.auditRecording(c, rec, audit.KindPlayback, "web", true); err != nil {
		return err
	}
	w := c.Response()
	w.Header().Set(echo.HeaderContentType, "text/event-stream")
	w.Header().Set("X-Accel-Buffering", "no")
	_ = http.NewResponseController(w).SetWriteDeadline(time.Time{})
	w.WriteHeader(http.StatusOK)
	idle := time.AfterFunc(remoteIdle, cancel)
	defer idle.Stop()
	buf := make([]byte, 32<<10)
	for {
		n, err := body.Read(buf)
		if n > 0 {
			idle.Reset(remoteIdle)
			if _, werr := w.Write(buf[:n]); werr != nil {
				return nil // the browser went away
			}
			w.Flush()
		}
		if err != nil {
			if !errors.Is(err, io.EOF) && ctx.Err() == nil {
				s.log.Warn("forwarded live view lost its node", "session_id", rec.ID, "node", node, "err", err)
			}
			return nil // the browser's EventSource reconnects unless the stream said "done"
		}
	}
}

// nodeHTTPError is the answer when another node could not be asked: 502
// with the node error's line, or 409 when the node has no such session.
func nodeHTTPError(s *Server, rec *recording.Meta, err error) error {
	var ne *cluster.NodeError
	if errors.As(err, &ne) {
		s.log.Warn("node did not answer", "session_id", rec.ID, "node", ne.Node, "err", ne.Err)
		return echo.NewHTTPError(http.StatusBadGateway, ne.Msg)
	}
	if errors.Is(err, cluster.ErrNotRunning) {
		return echo.NewHTTPError(http.StatusConflict, "this session is not running on its node")
	}
	s.log.Warn("call to another node failed", "session_id", rec.ID, "err", err)
	return echo.NewHTTPError(http.StatusBadGateway, "the node recording this session could not be asked")
}
