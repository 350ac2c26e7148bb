package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/jumpcast/jumpcast/internal/lock"
	"github.com/jumpcast/jumpcast/internal/recording"
	"github.com/jumpcast/jumpcast/store"
)

func (b *remoteBackend) ListRecordings(ctx context.Context, f store.Filter) (store.Page, error) {
	var p store.Page
	err := b.do(ctx, http.MethodGet, "/recordings?"+filterToQuery(f).Encode(), nil, &p)
	return p, err
}

func (b *remoteBackend) GetRecording(ctx context.Context, id string) (*recording.Meta, error) {
	var r recording.Meta
	if err := b.do(ctx, http.MethodGet, "/recordings/"+url.PathEscape(id), nil, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

func (b *remoteBackend) Verify(ctx context.Context, id string) (verifyResult, error) {
	var v verifyResult
	err := b.do(ctx, http.MethodPost, "/recordings/"+url.PathEscape(id)+"/verify", nil, &v)
	return v, err
}

func (b *remoteBackend) WebURL(ctx context.Context) (string, error) {
	var info serverInfo
	err := b.do(ctx, http.MethodGet, "/info", nil, &info)
	return info.WebURL, err
}

func (b *remoteBackend) EndSession(ctx context.Context, id, why string, whole bool) error {
	form := url.Values{"reason": {why}}
	if whole {
		form.Set("connection", "1")
	}
	return b.do(ctx, http.MethodPost, "/recordings/"+url.PathEscape(id)+"/end", strings.NewReader(form.Encode()), nil)
}

func (b *remoteBackend) Cast(ctx context.Context, id string, from float64) (io.ReadCloser, error) {
	q := ""
	if from > 0 {
		q = "?from=" + strconv.FormatFloat(from, 'f', -1, 64)
	}
	resp, err := b.send(ctx, http.MethodGet, "/recordings/"+url.PathEscape(id)+"/cast"+q, nil)
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

func (b *remoteBackend) Compact(ctx context.Context, id string) (compactResult, error) {
	var res compactResult
	err := b.do(ctx, http.MethodPost, "/recordings/"+url.PathEscape(id)+"/compact", nil, &res)
	return res, err
}

func (b *remoteBackend) PutAccount(ctx context.Context, a store.Account) error {
	body, err := json.Marshal(a)
	if err != nil {
		return err
	}
	return b.do(ctx, http.MethodPut, "/auditors/"+url.PathEscape(a.Name), bytes.NewReader(body), nil)
}

func (b *remoteBackend) ListAccounts(ctx context.Context) ([]store.Account, error) {
	var as []store.Account
	err := b.do(ctx, http.MethodGet, "/auditors", nil, &as)
	return as, err
}

func (b *remoteBackend) DeleteAccount(ctx context.Context, name string) error {
	return b.do(ctx, http.MethodDelete, "/auditors/"+url.PathEscape(name), nil, nil)
}

func (b *remoteBackend) ResetSecondFactor(ctx context.Context, name string) error {
	return b.do(ctx, http.MethodDelete, "/auditors/"+url.PathEscape(name)+"/mfa", nil, nil)
}

func (b *remoteBackend) CreateToken(ctx context.Context, owner, name string) (tokenCreated, error) {
	var tc tokenCreated
	form := url.Values{"owner": {owner}, "name": {name}}
	err := b.do(ctx, http.MethodPost, "/tokens", bytes.NewBufferString(form.Encode()), &tc)
	return tc, err
}

func (b *remoteBackend) ListTokens(ctx context.Context) ([]store.APIToken, error) {
	var ts []store.APIToken
	err := b.do(ctx, http.MethodGet, "/tokens", nil, &ts)
	return ts, err
}

func (b *remoteBackend) DeleteToken(ctx context.Context, id string) error {
	return b.do(ctx, http.MethodDelete, "/tokens/"+url.PathEscape(id), nil, nil)
}

func (b *remoteBackend) ListAudit(ctx context.Context, f store.AuditFilter) (auditPage, error) {
	q := url.Values{}
	if f.Kind != "" {
		q.Set("kind", string(f.Kind))
	}
	if f.User != "" {
		q.Set("user", f.User)
	}
	if f.Cursor != "" {
		q.Set("cursor", f.Cursor)
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
	var p auditPage
	err := b.do(ctx, http.MethodGet, "/audit?"+q.Encode(), nil, &p)
	return p, err
}

func (b *remoteBackend) CreateLock(ctx context.Context, l lock.Lock) (lock.Lock, error) {
	body, err := json.Marshal(l)
	if err != nil {
		return lock.Lock{}, err
	}
	var made lock.Lock
	err = b.do(ctx, http.MethodPut, "/locks", bytes.NewReader(body), &made)
	return made, err
}

func (b *remoteBackend) ListLocks(ctx context.Context) ([]lock.Lock, error) {
	var ls []lock.Lock
	err := b.do(ctx, http.MethodGet, "/locks", nil, &ls)
	return ls, err
}

func (b *remoteBackend) ListNodes(ctx context.Context) ([]store.Node, error) {
	var ns []store.Node
	err := b.do(ctx, http.MethodGet, "/nodes", nil, &ns)
	return ns, err
}

func (b *remoteBackend) HostKeyPins(ctx context.Context) ([]store.HostKeyPin, error) {
	var ps []store.HostKeyPin
	err := b.do(ctx, http.MethodGet, "/hostkeys", nil, &ps)
	return ps, err
}

func (b *remoteBackend) ForgetHostKeyPin(ctx context.Context, addr string) (store.HostKeyPin, error) {
	var p store.HostKeyPin
	err := b.do(ctx, http.MethodDelete, "/hostkeys/"+url.PathEscape(addr), nil, &p)
	return p, err
}

func (b *remoteBackend) RemoveLock(ctx context.Context, id string) (lock.Lock, error) {
	var l lock.Lock
	err := b.do(ctx, http.MethodDelete, "/locks/"+url.PathEscape(id), nil, &l)
	return l, err
}

func (b *remoteBackend) Backup(ctx context.Context, w io.Writer) (int64, error) {
	resp, err := b.send(ctx, http.MethodGet, "/backup", nil)
	if err != nil {
		return 0, err
	}
	defer func() { _ = resp.Body.Close() }()
	return io.Copy(w, resp.Body)
}
