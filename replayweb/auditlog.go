package replayweb

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/jumpcast/jumpcast/internal/audit"
	"github.com/jumpcast/jumpcast/store"
)

// The audit log on the web: every audit event, newest first, filtered by
// time, kind and person through the store's indexes and by outcome,
// target and client address over what those return. An account of role
// user sees only the events about itself as a bastion user.

const (
	auditPageSize = 100
	// auditScanPages bounds the store pages one audit page reads for its
	// outcome, target and address filters; a short page then says that the
	// search goes on from the next-page link.
	auditScanPages = 10
	// maxAuditExport bounds one export.
	maxAuditExport = 200_000
)

// auditQuery is the audit log's filter as it appears in the URL.
type auditQuery struct {
	Kind, Outcome, User, Target, Addr string
	SinceText, UntilText              string // YYYY-MM-DD (UTC) or RFC 3339
	Cursor                            string
}

func (q auditQuery) values() url.Values {
	v := url.Values{}
	for k, s := range map[string]string{"kind": q.Kind, "outcome": q.Outcome, "user": q.User, "target": q.Target,
		"addr": q.Addr, "since": q.SinceText, "until": q.UntilText, "cursor": q.Cursor} {
		if s != "" {
			v.Set(k, s)
		}
	}
	return v
}

func (q auditQuery) filtered() bool {
	return q.Kind != "" || q.Outcome != "" || q.User != "" || q.Target != "" || q.Addr != "" ||
		q.SinceText != "" || q.UntilText != ""
}

// match applies the filters the store has no index for.
func (q auditQuery) match(ev *audit.Event) bool {
	return (q.Outcome == "" || string(ev.Outcome) == q.Outcome) &&
		(q.Target == "" || strings.EqualFold(ev.Target, q.Target)) &&
		(q.Addr == "" || ev.RemoteAddr == q.Addr || hostOfAddr(ev.RemoteAddr) == q.Addr)
}

// hostOfAddr is the host of host:port (or addr when it has no port).
func hostOfAddr(addr string) string {
	if i := strings.LastIndexByte(addr, ':'); i > 0 && !strings.HasSuffix(addr, "]") && strings.Count(addr, ":") == 1 {
		return addr[:i]
	}
	if strings.HasPrefix(addr, "[") {
		if i := strings.Index(addr, "]"); i > 0 {
			return addr[1:i]
		}
	}
	return addr
}

// auditFilter reads the filter from the request and confines it to what
// the principal may see: a user account's log is of its own events,
// whatever the query string says.
func auditFilter(c echo.Context) (auditQuery, store.AuditFilter, error) {
	p := principalOf(c)
	if p == nil {
		return auditQuery{}, store.AuditFilter{}, fmt.Errorf("audit log: no principal (unguarded route)")
	}
	v := c.QueryParams()
	q := auditQuery{Kind: v.Get("kind"), Outcome: v.Get("outcome"), User: v.Get("user"), Target: v.Get("target"),
		Addr: v.Get("addr"), SinceText: v.Get("since"), UntilText: v.Get("until"), Cursor: v.Get("cursor")}
	for _, s := range []*string{&q.Kind, &q.Outcome, &q.User, &q.Target, &q.Addr, &q.SinceText, &q.UntilText} {
		*s = strings.TrimSpace(*s)
		if len(*s) > maxFilterLen {
			return q, store.AuditFilter{}, echo.NewHTTPError(http.StatusBadRequest, fmt.Sprintf("a filter is longer than %d characters", maxFilterLen))
		}
	}
	if q.Kind != "" && !slices.Contains(audit.Kinds(), audit.Kind(q.Kind)) {
		return q, store.AuditFilter{}, echo.NewHTTPError(http.StatusBadRequest, fmt.Sprintf("unknown kind %q", q.Kind))
	}
	since, err := parseDay(q.SinceText, false)
	if err != nil {
		return q, store.AuditFilter{}, echo.NewHTTPError(http.StatusBadRequest, "since: "+err.Error())
	}
	until, err := parseDay(q.UntilText, true)
	if err != nil {
		return q, store.AuditFilter{}, echo.NewHTTPError(http.StatusBadRequest, "until: "+err.Error())
	}
	if !p.seesAll() {
		q.User = p.Name
	}
	return q, store.AuditFilter{Since: since, Until: until, Kind: audit.Kind(q.Kind), User: q.User, Cursor: q.Cursor}, nil
}

// auditEvents returns up to limit events matching q, reading at most
// pages store pages, and the cursor to go on from ("" at the end).
func (s *Server) auditEvents(c echo.Context, q auditQuery, f store.AuditFilter, limit, pages int) ([]audit.Event, string, error) {
	var out []audit.Event
	for i := 0; i < pages; i++ {
		// Never more than still fits: every event a store page returns is
		// then either kept or skipped, and its cursor resumes after all.
		f.Limit = limit - len(out)
		evs, next, err := s.store.ListAudit(c.Request().Context(), f)
		if err != nil {
			return nil, "", fmt.Errorf("list audit events: %w", err)
		}
		for j := range evs {
			if q.match(&evs[j]) {
				out = append(out, evs[j])
			}
		}
		if next == "" || len(out) == limit {
			return out, next, nil
		}
		f.Cursor = next
	}
	return out, f.Cursor, nil
}

// auditBody is the audit page's data.
type auditBody struct {
	Q          auditQuery
	Items      []audit.Event
	Kinds      []audit.Kind
	Outcomes   []audit.Outcome
	OnlyPerson string
	Filtered   bool
	First      string
	Next       string
	Export     string // the filtered view's URL, for ?format=
}

func (s *Server) auditPage(c echo.Context) error {
	q, f, err := auditFilter(c)
	if err != nil {
		return err
	}
	switch c.QueryParam("format") {
	case "":
	case "jsonl", "csv":
		return s.auditExport(c, q, f, c.QueryParam("format"))
	default:
		return echo.NewHTTPError(http.StatusBadRequest, "format must be jsonl or csv")
	}
	items, next, err := s.auditEvents(c, q, f, auditPageSize, auditScanPages)
	if err != nil {
		return err
	}
	b := auditBody{Q: q, Items: items, Kinds: audit.Kinds(), Filtered: q.filtered(),
		Outcomes: audit.Outcomes()}
	if p := principalOf(c); !p.seesAll() {
		b.OnlyPerson = p.Name
		q.User = ""
		b.Q.User = ""
	}
	first := q
	first.Cursor = ""
	b.First = "/audit?" + first.values().Encode()
	if next != "" {
		n := first
		n.Cursor = next
		b.Next = "/audit?" + n.values().Encode()
	}
	b.Export = "/audit?" + first.values().Encode()
	return s.render(c, http.StatusOK, "audit", pageData{Title: "Audit log", Nav: "audit", Body: b})
}

// auditExport writes the filtered view as JSON lines (the stored format)
// or CSV, at most maxAuditExport events. The export is itself an audit
// event, written before anything is sent.
func (s *Server) auditExport(c echo.Context, q auditQuery, f store.AuditFilter, format string) error {
	p := principalOf(c)
	f.Cursor = ""
	if err := s.audit(c, audit.AuditExported(p.Name, q.values().Encode(), format)); err != nil {
		return err
	}
	name := "jumpcast-audit-" + s.now().UTC().Format("20060102T150405Z") + "." + format
	res := c.Response()
	res.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	if format == "csv" {
		res.Header().Set(echo.HeaderContentType, "text/csv; charset=utf-8")
	} else {
		res.Header().Set(echo.HeaderContentType, "application/x-ndjson")
	}
	res.WriteHeader(http.StatusOK)
	var cw *csv.Writer
	enc := json.NewEncoder(res)
	if format == "csv" {
		cw = csv.NewWriter(res)
		_ = cw.Write([]string{"id", "time", "kind", "outcome", "user", "remote_addr", "target", "remote_user", "session_id", "reason", "detail"})
	}
	sent := 0
	for sent < maxAuditExport {
		evs, next, err := s.auditEvents(c, q, f, min(store.MaxLimit, maxAuditExport-sent), auditScanPages)
		if err != nil {
			return nil // the header is out: the file ends short
		}
		for i := range evs {
			ev := &evs[i]
			if cw != nil {
				detail, _ := json.Marshal(ev.Detail)
				if ev.Detail == nil {
					detail = nil
				}
				_ = cw.Write([]string{fmt.Sprint(ev.ID), ev.Time.UTC().Format(time.RFC3339Nano), string(ev.Kind), string(ev.Outcome),
					csvSafe(ev.User), csvSafe(ev.RemoteAddr), csvSafe(ev.Target), csvSafe(ev.RemoteUser), ev.SessionID,
					csvSafe(string(ev.Reason)), csvSafe(string(detail))})
			} else if err := enc.Encode(ev); err != nil {
				return nil
			}
		}
		sent += len(evs)
		if next == "" {
			break
		}
		f.Cursor = next
	}
	if cw != nil {
		cw.Flush()
	}
	return nil
}

// csvSafe keeps a spreadsheet from reading a field as a formula (CSV
// injection): a leading =, +, - or @ gets a quote mark before it.
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
