package replayweb

import "github.com/jumpcast/jumpcast/store"

// The store satisfies the interface the site consumes.
var _ Store = (*store.Store)(nil)
