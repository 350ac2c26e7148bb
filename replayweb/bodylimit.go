package replayweb

import (
	"errors"
	"mime"
	"net/http"

	"github.com/labstack/echo/v4"
)

// parseFormLimited reads a form body (URL-encoded or multipart) at once,
// under the MaxBytesReader that limitBody put on it. A body that streams
// past the limit (chunked, no Content-Length) is refused with 413 here;
// handlers read form values with c.FormValue, which ignores parse errors
// and would see an empty form (and answer 403 for the missing CSRF token).
// A body that is not a form is left for the handler.
func parseFormLimited(r *http.Request) error {
	switch r.Method {
	case http.MethodPost, http.MethodPut, http.MethodPatch:
	default:
		return nil
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get(echo.HeaderContentType))
	var err error
	switch ct {
	case echo.MIMEApplicationForm:
		err = r.ParseForm()
	case echo.MIMEMultipartForm:
		err = r.ParseMultipartForm(maxBody)
	default:
		return nil
	}
	if err == nil {
		return nil
	}
	if mbe := (*http.MaxBytesError)(nil); errors.As(err, &mbe) {
		return echo.NewHTTPError(http.StatusRequestEntityTooLarge, "request body too large")
	}
	return echo.NewHTTPError(http.StatusBadRequest, "the form could not be read").SetInternal(err)
}
