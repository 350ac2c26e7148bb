package bastion

import (
	"context"
	"log/slog"

	"github.com/jumpcast/jumpcast/internal/audit"
)

// auditLog writes each audit event to the log as one "audit" line, then
// passes it on to be stored (log.audit). A log shipped off the bastion
// (journald forwarding, a SIEM) is then a copy of the audit trail that
// editing the data folder cannot reach. Audit events never hold a
// password, so neither do these lines.
type auditLog struct {
	log  *slog.Logger
	next audit.Sink
}

func (a auditLog) AppendAudit(ctx context.Context, ev audit.Event) error {
	attrs := []any{"kind", string(ev.Kind), "outcome", string(ev.Outcome)}
	for _, kv := range [][2]string{{"user", ev.User}, {"remote_addr", ev.RemoteAddr}, {"target", ev.Target},
		{"remote_user", ev.RemoteUser}, {"session_id", ev.SessionID}, {"reason", string(ev.Reason)}} {
		if kv[1] != "" {
			attrs = append(attrs, kv[0], kv[1])
		}
	}
	if len(ev.Detail) > 0 {
		attrs = append(attrs, "detail", ev.Detail)
	}
	a.log.Info("audit", attrs...)
	return a.next.AppendAudit(ctx, ev)
}
