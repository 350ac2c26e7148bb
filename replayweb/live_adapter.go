package replayweb

// LiveSource is the live fan-out of active sessions (TEMPORARY shape until
// recorder.Hub lands).
type LiveSource interface {
	Active() []string
}

func (s *Server) subscribe(id string) (liveFeed, bool) { return liveFeed{}, false }
