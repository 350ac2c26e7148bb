package replayweb

import (
	"bytes"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/jumpcast/jumpcast/internal/recording"
	"github.com/jumpcast/jumpcast/store"
)

// pageTemplate is one page parsed together with the shared layout.
type pageTemplate struct{ t *template.Template }

// pageData is what every page template receives.
type pageData struct {
	Title string
	Nav   string     // "recordings" or "admin": the highlighted menu entry
	User  *principal // nil on the login and some error pages
	CSRF  string     // the token every form on the page carries
	Body  any        // the page's own data
	// TerminalNav shows "Terminal" in the menu (set by render).
	TerminalNav bool
	// Nonce, when set, is the response's style nonce: render sends
	// playerCSP(Nonce) instead of csp (the recording page's player).
	Nonce string
}

var templateFuncs = template.FuncMap{
	"utc":    fmtTime,
	"dur":    fmtDuration,
	"size":   fmtSize,
	"exit":   fmtExit,
	"target": targetName,
}

func parsePages() (map[string]*pageTemplate, error) {
	pages := map[string]*pageTemplate{}
	for _, name := range []string{"login", "list", "recording", "admin", "error", "audit", "continue", "second", "account", "connect", "terminal"} {
		t, err := template.New(name).Funcs(templateFuncs).ParseFS(embedded, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("replayweb: parse template %s: %w", name, err)
		}
		pages[name] = &pageTemplate{t: t}
	}
	return pages, nil
}

// render executes a page into a buffer first, so a template error becomes a
// clean 500 instead of half a page.
func (s *Server) render(c echo.Context, status int, page string, d pageData) error {
	if d.User == nil {
		d.User = principalOf(c)
	}
	d.TerminalNav = s.offersTerminal(d.User)
	if d.CSRF == "" && d.User != nil && d.User.login != nil {
		d.CSRF = d.User.login.csrf
	}
	if d.Nonce != "" {
		c.Response().Header().Set("Content-Security-Policy", playerCSP(d.Nonce))
	}
	var buf bytes.Buffer
	if err := s.pages[page].t.ExecuteTemplate(&buf, "layout", d); err != nil {
		return fmt.Errorf("render %s: %w", page, err)
	}
	return c.HTMLBlob(status, buf.Bytes())
}

// handleError maps errors to responses: JSON under /api, an error page
// elsewhere. Internal errors are logged with detail and shown generically.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		s.log.Debug("web error after response started", "err", err, "path", c.Request().URL.Path)
		return
	}
	code := http.StatusInternalServerError
	msg := "internal error"
	var he *echo.HTTPError
	switch {
	case errors.As(err, &he):
		code = he.Code
		if m, ok := he.Message.(string); ok {
			msg = m
		} else {
			msg = strings.ToLower(http.StatusText(code))
		}
	case errors.Is(err, store.ErrNotFound):
		code, msg = http.StatusNotFound, "not found"
	case errors.Is(err, store.ErrInvalidFilter):
		code, msg = http.StatusBadRequest, "invalid filter or cursor"
	}
	if code >= 500 {
		s.log.Error("web request failed", "err", err, "method", c.Request().Method, "path", c.Request().URL.Path, "remote_addr", c.RealIP())
	}
	if strings.HasPrefix(c.Request().URL.Path, "/api/") || c.Request().URL.Path == "/metrics" {
		_ = c.JSON(code, map[string]string{"error": msg})
		return
	}
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(code)
		return
	}
	body := struct {
		Status  int
		Message string
	}{code, msg}
	if rerr := s.render(c, code, "error", pageData{Title: http.StatusText(code), Body: body}); rerr != nil {
		s.log.Error("render error page", "err", rerr)
		_ = c.String(code, msg)
	}
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04:05")
}

func fmtDuration(d time.Duration) string {
	if d < time.Second {
		return fmt.Sprintf("%.1fs", d.Seconds())
	}
	d = d.Round(time.Second)
	h, m, sec := int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60
	switch {
	case h > 0:
		return fmt.Sprintf("%dh%02dm%02ds", h, m, sec)
	case m > 0:
		return fmt.Sprintf("%dm%02ds", m, sec)
	default:
		return fmt.Sprintf("%ds", sec)
	}
}

func fmtSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTP"[exp])
}

func fmtExit(r recording.Meta) string {
	switch {
	case r.ExitSignal != "":
		return "SIG" + r.ExitSignal
	case r.ExitStatus != nil:
		return fmt.Sprint(*r.ExitStatus)
	default:
		return "—"
	}
}

// targetName is the alias when the session used one, else the address.
func targetName(r recording.Meta) string {
	if r.TargetAlias != "" {
		return r.TargetAlias
	}
	return r.TargetAddr
}
