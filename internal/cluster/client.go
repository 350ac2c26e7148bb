package cluster

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Timeouts of a call to another node. A node that does not answer within
// them is reported as not answering (NodeError), never waited for.
const (
	dialTimeout   = 3 * time.Second // TCP connect (and TLS handshake)
	headerTimeout = 5 * time.Second // from the request sent to the response's header
	endTimeout    = 10 * time.Second
)

// Resolver returns the internal URL (cluster.advertise) of node, as the
// node registry has it; an error when the node is not registered or
// advertises none.
type Resolver func(ctx context.Context, node string) (string, error)

// NodeError is a call to another node that failed: its Error is the line
// a user is shown ("the node recording this session, A, does not
// answer"); Err, for the log, says what failed.
type NodeError struct {
	Node string
	Msg  string
	Err  error
}

func (e *NodeError) Error() string { return e.Msg }
func (e *NodeError) Unwrap() error { return e.Err }

func unreachable(node string, err error) *NodeError {
	return &NodeError{Node: node, Msg: fmt.Sprintf("the node recording this session, %s, does not answer", node), Err: err}
}

// Client makes internal calls to other nodes. It is safe for concurrent
// use.
type Client struct {
	secret  []byte
	resolve Resolver
	tls     bool // the cluster uses TLS: plain http:// addresses are refused
	hc      *http.Client
}

// NewClient returns a client that presents secret to the nodes resolve
// finds. With tlsConf (ClientTLS), it calls https:// addresses only and
// checks their certificates with it; nil calls http:// addresses.
func NewClient(secret []byte, resolve Resolver, tlsConf *tls.Config) *Client {
	tr := &http.Transport{
		TLSClientConfig:       tlsConf,
		Proxy:                 nil, // node-to-node calls never go through HTTP_PROXY
		DialContext:           (&net.Dialer{Timeout: dialTimeout}).DialContext,
		TLSHandshakeTimeout:   dialTimeout,
		ResponseHeaderTimeout: headerTimeout,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       time.Minute,
	}
	// No client-wide timeout: a live stream lasts as long as its session.
	return &Client{secret: secret, resolve: resolve, tls: tlsConf != nil, hc: &http.Client{Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// call sends method path (with form as the body of a POST) to node.
func (c *Client) call(ctx context.Context, node, method, path string, form url.Values) (*http.Response, error) {
	base, err := c.resolve(ctx, node)
	if err != nil {
		return nil, unreachable(node, err)
	}
	wantScheme := "http://"
	if c.tls {
		wantScheme = "https://"
	}
	if !strings.HasPrefix(base, wantScheme) {
		// The secret never goes out in clear text to a cluster that uses TLS.
		return nil, unreachable(node, fmt.Errorf("node advertises %s, want %s (cluster.tls_cert)", base, wantScheme))
	}
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(base, "/")+path, body)
	if err != nil {
		return nil, unreachable(node, err)
	}
	req.Header.Set("Authorization", "Bearer "+string(c.secret))
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, unreachable(node, err)
	}
	return resp, nil
}

// Live opens the live stream of session id on node: Server-Sent Events as
// the web site's live view sends them, to be copied to the browser. The
// caller closes it; it ends when the session ends, the node goes away, or
// ctx is done.
func (c *Client) Live(ctx context.Context, node, id string) (io.ReadCloser, error) {
	resp, err := c.call(ctx, node, http.MethodGet, "/cluster/v1/sessions/"+url.PathEscape(id)+"/live", nil)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		_ = resp.Body.Close()
		return nil, statusError(node, resp.StatusCode)
	}
	return resp.Body, nil
}

// End asks node to end session id (with whole, its admin connection) on
// behalf of by, telling the admin why. It returns an error wrapping
// ErrNotRunning when the node has no such session, a *NodeError when the
// node cannot be asked.
func (c *Client) End(ctx context.Context, node, id, by, why string, whole bool) error {
	ctx, cancel := context.WithTimeout(ctx, endTimeout)
	defer cancel()
	form := url.Values{"by": {by}, "why": {why}}
	if whole {
		form.Set("scope", "connection")
	}
	resp, err := c.call(ctx, node, http.MethodPost, "/cluster/v1/sessions/"+url.PathEscape(id)+"/end", form)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	_ = resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusNoContent, http.StatusOK:
		return nil
	case http.StatusConflict:
		return fmt.Errorf("node %s: %w", node, ErrNotRunning)
	}
	return statusError(node, resp.StatusCode)
}

// statusError is a node's refusal: 401 means the nodes do not share the
// secret.
func statusError(node string, code int) error {
	if code == http.StatusUnauthorized {
		return &NodeError{Node: node, Msg: fmt.Sprintf("the node recording this session, %s, refused this node (cluster secrets differ)", node),
			Err: errors.New("401 from the node's internal listener")}
	}
	return &NodeError{Node: node, Msg: fmt.Sprintf("the node recording this session, %s, could not do it", node),
		Err: fmt.Errorf("HTTP %d from the node's internal listener", code)}
}
