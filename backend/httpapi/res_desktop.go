package httpapi

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"

	"github.com/gorilla/websocket"

	"github.com/portcullis/portcullis/backend/desktops"
	"github.com/portcullis/portcullis/backend/guacgw"
	"github.com/portcullis/portcullis/backend/session"
	"github.com/portcullis/portcullis/backend/settings"
)

// Desktops runs RDP and VNC sessions (desktops.Service).
type Desktops interface {
	Serve(ctx context.Context, req desktops.Request) error
	Watch(ctx context.Context, live *session.Live, c guacgw.Client, w, h int) error
	GuacdStatus(ctx context.Context, fresh bool) desktops.Status
}

var _ Desktops = (*desktops.Service)(nil)

// registerDesktops adds the guacd status and the desktop settings.
func (a *API) registerDesktops() {
	a.add(&route{method: "GET", path: "/guacd/status", tag: "Desktops",
		summary: "Whether the server reaches guacd, which RDP and VNC sessions need (checked at most every 10 s; ?fresh=1 checks now)",
		access:  anyUser, resp: desktops.Status{},
		h: func(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
			if a.Desktops == nil {
				return &Error{Status: http.StatusServiceUnavailable, Code: "unavailable", Message: "desktop sessions are not available on this server"}
			}
			fresh := r.URL.Query().Get("fresh") == "1" && rc.isSystem()
			writeJSON(w, 200, a.Desktops.GuacdStatus(r.Context(), fresh))
			return nil
		}})
	a.add(&route{method: "GET", path: "/settings/desktop", tag: "Settings", summary: "RDP/VNC settings: guacd's address (empty: the server's default) and whether key presses are recorded",
		access: systemRead, resp: settings.Desktop{},
		h: func(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
			d, err := a.Settings.Desktop(r.Context())
			if err != nil {
				return err
			}
			writeJSON(w, 200, d)
			return nil
		}})
	a.add(&route{method: "PUT", path: "/settings/desktop", tag: "Settings", summary: "Replace the RDP/VNC settings", access: systemAdmin,
		req: settings.Desktop{}, resp: settings.Desktop{},
		h: func(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
			var in settings.Desktop
			if err := decodeJSON(r, &in); err != nil {
				return err
			}
			return a.putSetting(w, r, rc, settings.KeyDesktop, &in, in.Validate)
		}})
}

// serveDesktop runs an RDP or VNC session: the Origin is checked, the
// one-time connection token spent, and the session handed to Desktops, which
// checks the permission again, connects through guacd and relays Guacamole
// instructions as text frames both ways.
func (a *API) serveDesktop(w http.ResponseWriter, r *http.Request) {
	const path = "/ws/desktop"
	ctx := r.Context()
	rc, ct, ok := a.acceptConnection(w, r, path, "desktop", a.Desktops != nil)
	if !ok {
		return
	}
	if !slices.Contains(desktops.Protocols, ct.Protocol) {
		a.deny(ctx, rc, "GET "+path, "desktop: the token is for "+ct.Protocol)
		writeJSONError(w, errForbidden("this connection token is not for a desktop session"))
		return
	}
	conn, err := a.upgrade(w, r)
	if err != nil {
		return // the upgrader answered
	}
	q := r.URL.Query()
	width, _ := strconv.Atoi(q.Get("width"))
	height, _ := strconv.Atoi(q.Get("height"))
	dpi, _ := strconv.Atoi(q.Get("dpi"))
	width, height, dpi = clampScreen(width, height, dpi)
	c := guacgw.WebSocketClient(conn)
	defer c.Close()
	err = a.Desktops.Serve(context.WithoutCancel(ctx), desktops.Request{
		User: rc.user, Remote: rc.remote, AssetID: ct.AssetID, Account: ct.Account, Protocol: ct.Protocol,
		Width: width, Height: height, DPI: dpi, Client: c,
	})
	if err != nil && !errors.Is(err, context.Canceled) {
		a.log.ErrorContext(ctx, "desktop session", "user", rc.user.Username, "err", err)
	}
}

// clampScreen bounds the screen a browser asks for (guacd would refuse, or
// allocate, anything).
func clampScreen(w, h, dpi int) (int, int, int) {
	if w <= 0 || h <= 0 {
		w, h = 1024, 768
	}
	w, h = min(max(w, 320), 8192), min(max(h, 200), 8192)
	if dpi <= 0 {
		dpi = 96
	}
	return w, h, min(max(dpi, 48), 384)
}

// watchDesktop shows a live desktop session read-only to an administrator.
func (a *API) watchDesktop(r *http.Request, conn *websocket.Conn, l *session.Live) {
	q := r.URL.Query()
	width, _ := strconv.Atoi(q.Get("width"))
	height, _ := strconv.Atoi(q.Get("height"))
	width, height, _ = clampScreen(width, height, 96)
	c := guacgw.WebSocketClient(conn)
	defer c.Close()
	if a.Desktops == nil {
		c.WriteMessage([]byte(guacgw.Instruction{Opcode: "error", Args: []string{"desktop sessions are not available on this server", "512"}}.String()))
		return
	}
	if err := a.Desktops.Watch(context.WithoutCancel(r.Context()), l, c, width, height); err != nil {
		a.log.WarnContext(r.Context(), "watch desktop", "session", l.Meta().ID, "err", err)
	}
}
