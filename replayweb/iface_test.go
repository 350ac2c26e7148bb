package replayweb

import (
	"github.com/jumpcast/jumpcast/internal/recfiles"
	"github.com/jumpcast/jumpcast/recorder"
	"github.com/jumpcast/jumpcast/store"
)

// The concrete types cmd/jumpcast wires satisfy the interfaces the site
// consumes.
var (
	_ Store      = (*store.Store)(nil)
	_ CastOpener = (*recfiles.Files)(nil)
	_ LiveSource = (*recorder.Hub)(nil)
)
