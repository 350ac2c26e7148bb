// Command opserver is the OpenID provider jumpcast's single sign-on tests
// log in through: zitadel/oidc's example provider (example/server, on the
// library's OpenID-certified op package, with its own login page) started
// on a loopback port, with one addition: each user's "groups" claim, read
// from the users file, is asserted in the ID token and at the userinfo
// endpoint, as an organisation's provider does.
//
// Usage: opserver USERS_JSON REDIRECT_URI[,POST_LOGOUT_URI...]
//
// The users file is zitadel's example format (a map of id to user) with an
// extra "Groups" list per user. The provider listens on 127.0.0.1:0 and
// prints one line, "issuer http://127.0.0.1:PORT", when it is ready; the
// clients "web" (jumpcast) and "other" (another application), both with
// secret "secret", may use the given redirect URIs.
// It runs until killed.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"

	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// groupsStorage is the example storage with each user's groups added to
// what the provider asserts about them.
type groupsStorage struct {
	*storage.Storage
	groups map[string][]string // by user id
}

func (g groupsStorage) SetUserinfoFromRequest(ctx context.Context, ui *oidc.UserInfo, req op.IDTokenRequest, scopes []string) error {
	if err := g.Storage.SetUserinfoFromRequest(ctx, ui, req, scopes); err != nil {
		return err
	}
	g.add(ui, req.GetSubject())
	return nil
}

func (g groupsStorage) SetUserinfoFromToken(ctx context.Context, ui *oidc.UserInfo, tokenID, subject, origin string) error {
	if err := g.Storage.SetUserinfoFromToken(ctx, ui, tokenID, subject, origin); err != nil {
		return err
	}
	g.add(ui, ui.Subject)
	return nil
}

func (g groupsStorage) add(ui *oidc.UserInfo, subject string) {
	if gs, ok := g.groups[subject]; ok {
		ui.AppendClaims("groups", gs)
	}
}

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: opserver USERS_JSON REDIRECT_URI[,POST_LOGOUT_URI...]")
		os.Exit(2)
	}
	if err := run(os.Args[1], strings.Split(os.Args[2], ",")); err != nil {
		fmt.Fprintln(os.Stderr, "opserver:", err)
		os.Exit(1)
	}
}

func run(usersFile string, redirects []string) error {
	users, err := storage.StoreFromFile(usersFile)
	if err != nil {
		return fmt.Errorf("users file: %w", err)
	}
	data, err := os.ReadFile(usersFile)
	if err != nil {
		return err
	}
	var extra map[string]struct{ Groups []string }
	if err := json.Unmarshal(data, &extra); err != nil {
		return fmt.Errorf("users file: %w", err)
	}
	groups := map[string][]string{}
	for id, u := range extra {
		groups[id] = u.Groups
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	issuer := "http://" + ln.Addr().String()
	// "other" is another application at the same provider, with the same
	// redirects: the tests show jumpcast refuses what it was issued.
	storage.RegisterClients(storage.WebClient("web", "secret", redirects...),
		storage.WebClient("other", "secret", redirects...))
	st := groupsStorage{Storage: storage.NewStorage(users), groups: groups}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	router := exampleop.SetupServer(issuer, st, log, false)
	fmt.Printf("issuer %s\n", issuer)
	return http.Serve(ln, router)
}
