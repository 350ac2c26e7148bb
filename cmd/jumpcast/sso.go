package main

import (
	"github.com/jumpcast/jumpcast/config"
	"github.com/jumpcast/jumpcast/replayweb"
)

// ssoOptions turns web.oidc into the web site's single sign-on options,
// reading the client secret from where the config says; nil without
// web.oidc.
func ssoOptions(o *config.OIDC) (*replayweb.OIDCOptions, error) {
	if o == nil {
		return nil, nil
	}
	secret, err := o.ReadSecret()
	if err != nil {
		return nil, err
	}
	return &replayweb.OIDCOptions{
		Name: o.Name, Issuer: o.Issuer, ClientID: o.ClientID, ClientSecret: secret, RedirectURL: o.RedirectURL,
		Scopes: o.Scopes, RoleClaim: o.RoleClaim, Roles: o.Roles, UserClaim: o.UserClaim,
		PostLogoutRedirectURL: o.PostLogoutRedirectURL,
	}, nil
}
