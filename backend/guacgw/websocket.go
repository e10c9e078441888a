package guacgw

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// WebSocketSubprotocol is the subprotocol guacamole-common-js asks for
// (new WebSocket(url, "guacamole")). The upgrader must offer it
// (websocket.Upgrader.Subprotocols), or browsers refuse the connection.
const WebSocketSubprotocol = "guacamole"

// Limits of the WebSocket adapter.
const (
	// MaxClientMessage is the longest message WebSocketClient accepts from a
	// browser. guacamole-common-js sends one instruction per message.
	MaxClientMessage = 64 << 10
	// ClientReadTimeout is how long WebSocketClient waits for a message or
	// a pong: a browser silent for this long is gone.
	ClientReadTimeout = 75 * time.Second
	// PingInterval is how often WebSocketClient pings the browser, so that a
	// session with nothing to say (a still screen, no input) stays up.
	PingInterval = 30 * time.Second
	// ClientWriteTimeout bounds one message to the browser.
	ClientWriteTimeout = 30 * time.Second
)

// WebSocketClient adapts an upgraded gorilla/websocket connection to
// Client. It sets the read limit to MaxClientMessage, pings every
// PingInterval, gives up on a browser silent (pongs included) for
// ClientReadTimeout, and writes with ClientWriteTimeout; Close stops the
// pings and sends a normal close frame first. Check the Origin and
// authenticate before upgrading: the adapter trusts its connection.
func WebSocketClient(c *websocket.Conn) Client {
	c.SetReadLimit(MaxClientMessage)
	_ = c.SetReadDeadline(time.Now().Add(ClientReadTimeout))
	c.SetPongHandler(func(string) error { return c.SetReadDeadline(time.Now().Add(ClientReadTimeout)) })
	w := &wsClient{c: c, done: make(chan struct{})}
	go w.pinger()
	return w
}

type wsClient struct {
	c         *websocket.Conn
	done      chan struct{} // closed by Close: stops the pinger
	closeOnce sync.Once
	closeErr  error
}

// pinger pings until Close (WriteControl may run beside WriteMessage).
func (w *wsClient) pinger() {
	t := time.NewTicker(PingInterval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			if w.c.WriteControl(websocket.PingMessage, nil, time.Now().Add(ClientWriteTimeout)) != nil {
				return
			}
		case <-w.done:
			return
		}
	}
}

func (w *wsClient) ReadMessage() ([]byte, error) {
	typ, p, err := w.c.ReadMessage()
	if err == nil {
		_ = w.c.SetReadDeadline(time.Now().Add(ClientReadTimeout))
	}
	switch {
	case errors.Is(err, websocket.ErrReadLimit):
		return nil, fmt.Errorf("%w: WebSocket message over %d bytes", ErrTooLong, MaxClientMessage)
	case err != nil:
		var ce *websocket.CloseError
		if errors.As(err, &ce) || errors.Is(err, net.ErrClosed) {
			return nil, fmt.Errorf("%w (%w)", io.EOF, err)
		}
		return nil, err
	case typ != websocket.TextMessage:
		return nil, fmt.Errorf("%w: binary WebSocket message", ErrMalformed)
	}
	return p, nil
}

func (w *wsClient) WriteMessage(p []byte) error {
	_ = w.c.SetWriteDeadline(time.Now().Add(ClientWriteTimeout))
	return w.c.WriteMessage(websocket.TextMessage, p)
}

func (w *wsClient) Close() error {
	w.closeOnce.Do(func() {
		close(w.done)
		_ = w.c.WriteControl(websocket.CloseMessage,
			websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
		w.closeErr = w.c.Close()
	})
	return w.closeErr
}
