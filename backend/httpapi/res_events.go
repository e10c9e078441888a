package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/gorilla/websocket"

	"github.com/portcullis/portcullis/backend/store"
)

// liveEvent is a frame of /ws/events: an approval requested or decided, or a
// command a filter flagged (denied, warned, approved, rejected, expired).
type liveEvent struct {
	Type     string          `json:"type"` // "approval" or "command"
	Approval *store.Approval `json:"approval,omitempty"`
	Command  *store.Command  `json:"command,omitempty"`
}

// serveEvents streams, to an admin or auditor, the approvals and flagged
// commands of the organization's sessions on this node, as they happen: the
// UI's real-time notifications. Read-only; the client sends nothing.
func (a *API) serveEvents(w http.ResponseWriter, r *http.Request) {
	const path = "/ws/events"
	rc, ok := a.wsAuthorize(w, r, adminRead, path)
	if !ok {
		return
	}
	if a.Sessions == nil {
		writeJSONError(w, errLiveUnavailable)
		return
	}
	org := rc.orgID
	if rc.isSystem() && r.URL.Query().Get("all_orgs") == "true" {
		org = 0
	}
	conn, err := a.upgrade(w, r)
	if err != nil {
		return
	}
	defer conn.Close()
	approvals, stopA := a.Sessions.SubscribeApprovals(org)
	defer stopA()
	commands, stopC := a.Sessions.SubscribeCommands(org)
	defer stopC()
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	go func() { // the client sends nothing but pongs and the close
		defer cancel()
		conn.SetReadLimit(1024)
		conn.SetReadDeadline(time.Now().Add(wsPongWait))
		conn.SetPongHandler(func(string) error { return conn.SetReadDeadline(time.Now().Add(wsPongWait)) })
		for {
			if _, _, err := conn.ReadMessage(); err != nil {
				return
			}
		}
	}()
	send := func(ev liveEvent) bool {
		b, err := json.Marshal(ev)
		if err != nil {
			return false
		}
		conn.SetWriteDeadline(time.Now().Add(wsWriteWait))
		return conn.WriteMessage(websocket.TextMessage, b) == nil
	}
	ping := time.NewTicker(wsPingEvery)
	defer ping.Stop()
	for {
		ok := true
		select {
		case ap, open := <-approvals:
			if !open {
				return
			}
			ok = send(liveEvent{Type: "approval", Approval: &ap})
		case c, open := <-commands:
			if !open {
				return
			}
			ok = send(liveEvent{Type: "command", Command: &c})
		case <-ping.C:
			ok = conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(wsWriteWait)) == nil
		case <-ctx.Done():
			return
		}
		if !ok {
			return
		}
	}
}
