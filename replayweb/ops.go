package replayweb

import (
	"context"
	"net/http"

	"github.com/labstack/echo/v4"
)

// The operations routes: GET /healthz and /readyz answer anyone (a load
// balancer or an orchestrator has no account) with "ok" or 503 and a short
// reason; the checks' detail goes to the log, not to the answer. GET
// /metrics (Options.Metrics) needs a logged-in auditor or an API token and
// is registered with the API routes.

// healthz is liveness: Options.Health, or "ok" when it is nil.
func (s *Server) healthz(c echo.Context) error { return probe(c, s.o.Health) }

// readyz is readiness: Options.Ready. It is registered only when set.
func (s *Server) readyz(c echo.Context) error { return probe(c, s.o.Ready) }

func probe(c echo.Context, check func(context.Context) error) error {
	if check != nil {
		if err := check(c.Request().Context()); err != nil {
			return c.String(http.StatusServiceUnavailable, "unhealthy: "+err.Error()+"\n")
		}
	}
	return c.String(http.StatusOK, "ok\n")
}
