package httpapi

// registerKeys adds the endpoints for users' SSH public keys.
func (a *API) registerKeys() {}
