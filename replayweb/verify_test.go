package replayweb

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jumpcast/jumpcast/internal/audit"
	"github.com/jumpcast/jumpcast/internal/recording"
	"github.com/jumpcast/jumpcast/store"
)

// TestVerifyRecording: "Verify the file" re-hashes the cast against the
// index. An intact file says so; after the file is edited on disk the page
// says the file changed and shows its new hash; both are audit events;
// the button needs the form's CSRF token.
func TestVerifyRecording(t *testing.T) {
	e := newEnv(t, nil)
	sum := sha256.Sum256([]byte(sampleCast))
	rec := e.addRecording(recording.Meta{SHA256: hex.EncodeToString(sum[:])}, sampleCast)
	c := e.client()
	c.login("alice", testPassword)
	_, page := c.get("/recordings/" + rec.ID)
	if !strings.Contains(page, `id="verify"`) {
		t.Fatal("no verify button on a closed recording")
	}
	path := "/recordings/" + rec.ID + "/verify"
	if res, _ := c.do(http.MethodPost, path, url.Values{}); res.StatusCode != http.StatusForbidden {
		t.Errorf("without the CSRF token: %d, want 403", res.StatusCode)
	}
	tok := csrfFrom(t, page)
	res, page := c.do(http.MethodPost, path, url.Values{"_csrf": {tok}})
	if res.StatusCode != http.StatusOK || !strings.Contains(page, `id="verify-result"`) || !strings.Contains(page, "The file is intact") {
		t.Fatalf("intact file: %d\n%s", res.StatusCode, page)
	}

	file := filepath.Join(e.dir, filepath.FromSlash(rec.Path))
	edited := strings.Replace(sampleCast, "hello", "HELLO", 1)
	if err := os.WriteFile(file, []byte(edited), 0o600); err != nil {
		t.Fatal(err)
	}
	editedSum := sha256.Sum256([]byte(edited))
	_, page = c.do(http.MethodPost, path, url.Values{"_csrf": {tok}})
	if !strings.Contains(page, "Verification failed: file changed since it was closed") || !strings.Contains(page, hex.EncodeToString(editedSum[:])) {
		t.Errorf("edited file: the page does not say so:\n%s", page)
	}

	evs, _, err := e.store.ListAudit(context.Background(), store.AuditFilter{Kind: audit.KindVerify, Limit: 10})
	if err != nil || len(evs) != 2 || evs[0].Outcome != audit.OutcomeFailed || evs[1].Outcome != audit.OutcomeOK || evs[0].SessionID != rec.ID ||
		evs[0].Detail[audit.DetailProblem] != "file changed since it was closed" {
		t.Errorf("verify audit events %+v (%v)", evs, err)
	}
}
