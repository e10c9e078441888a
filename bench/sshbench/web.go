package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// The web terminal against the SSH gateway, both through the same bastion to
// the same target: throughput of an interactive shell printing webBytes of
// text, and keystroke echo latency.
const webBytes = 100_000_000

// webThroughputCmd prints webBytes of text in lines of 100 characters, then a
// marker that only the shell's expansion produces (the typed line does not
// contain it).
var webThroughputCmd = fmt.Sprintf("head -c %d /dev/zero | tr '\\0' x | fold -w 100; echo WEB-DONE-$((40+2))\r", webBytes)

const webDoneMarker = "WEB-DONE-42"

// webAPI calls the bastion's REST API.
func (b *bench) webAPI(ctx context.Context, method, path, token string, body, out any) error {
	var rd io.Reader
	if body != nil {
		j, _ := json.Marshal(body)
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://"+b.bastion.addrs.HTTP+"/api/v1"+path, rd)
	if err != nil {
		return err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	if res.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %d %s", method, path, res.StatusCode, data)
	}
	return json.Unmarshal(data, out)
}

// openWebShell logs alice in through the API, takes a connection token for
// web01 and opens /ws/terminal: a shell whose output arrives in chunks.
func (b *bench) openWebShell(ctx context.Context) (*shell, error) {
	var login struct{ Status, Token string }
	if err := b.webAPI(ctx, "POST", "/auth/login", "", map[string]string{"username": benchUser, "password": benchPassword}, &login); err != nil {
		return nil, err
	}
	if login.Status != "ok" {
		return nil, fmt.Errorf("login: status %q", login.Status)
	}
	var assets struct {
		Items []struct {
			Asset struct {
				ID   uint
				Name string
			}
		}
	}
	if err := b.webAPI(ctx, "GET", "/me/assets", login.Token, nil, &assets); err != nil {
		return nil, err
	}
	var assetID uint
	for _, it := range assets.Items {
		if it.Asset.Name == benchAsset {
			assetID = it.Asset.ID
		}
	}
	if assetID == 0 {
		return nil, fmt.Errorf("alice does not see %s", benchAsset)
	}
	var tok struct{ Token string }
	if err := b.webAPI(ctx, "POST", "/terminal/tokens", login.Token, map[string]any{"asset_id": assetID}, &tok); err != nil {
		return nil, err
	}
	d := websocket.Dialer{HandshakeTimeout: 15 * time.Second, Subprotocols: []string{"portcullis.v1", "portcullis.connect." + tok.Token},
		ReadBufferSize: 64 << 10, WriteBufferSize: 4 << 10}
	conn, _, err := d.DialContext(ctx, "ws://"+b.bastion.addrs.HTTP+"/ws/terminal?cols=80&rows=24", nil)
	if err != nil {
		return nil, err
	}
	conn.SetReadLimit(1 << 30)
	s := &shell{out: make(chan []byte, 64), closeFn: func() { conn.Close() }}
	var wmu sync.Mutex
	s.stdin = writerFunc(func(p []byte) (int, error) {
		wmu.Lock()
		defer wmu.Unlock()
		if err := conn.WriteMessage(websocket.BinaryMessage, p); err != nil {
			return 0, err
		}
		return len(p), nil
	})
	go func() {
		defer close(s.out)
		for {
			kind, p, err := conn.ReadMessage()
			if err != nil {
				return
			}
			if kind == websocket.BinaryMessage {
				s.out <- p
			}
		}
	}()
	return s, nil
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// printTime types webThroughputCmd at the prompt and answers how long the
// output took to arrive, up to the marker.
func printTime(s *shell, timeout time.Duration) (time.Duration, int64, error) {
	s.quiet(500*time.Millisecond, 10*time.Second) // the prompt
	t0 := time.Now()
	if _, err := io.WriteString(s.stdin, webThroughputCmd); err != nil {
		return 0, 0, err
	}
	var n int64
	var tail []byte
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		select {
		case p, ok := <-s.out:
			if !ok {
				return 0, n, io.EOF
			}
			n += int64(len(p))
			tail = append(tail, p...)
			if bytes.Contains(tail, []byte(webDoneMarker)) {
				return time.Since(t0), n, nil
			}
			if len(tail) > 64 {
				tail = tail[len(tail)-64:]
			}
		case <-timer.C:
			return 0, n, fmt.Errorf("no %s within %v (%d bytes seen)", webDoneMarker, timeout, n)
		}
	}
}

// web compares the web terminal with the SSH gateway (interactive shell with a
// pty on both).
func (b *bench) web(ctx context.Context) error {
	const timeout = 3 * time.Minute
	var gwT, webT time.Duration
	var gwN, webN int64
	for _, via := range []string{"gateway", "web"} {
		b.waitQuiet(ctx)
		var s *shell
		var err error
		if via == "web" {
			s, err = b.openWebShell(ctx)
		} else {
			s, err = openShell(ctx, b.bastion.addrs.SSH, benchUser+"@"+benchAsset, b.alice.signer)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", via, err)
		}
		d, n, err := printTime(s, timeout)
		s.close()
		if err != nil {
			return fmt.Errorf("%s throughput: %w", via, err)
		}
		b.logf("web: %s printed %d MB in %v", via, n/1e6, d.Round(time.Millisecond))
		if via == "web" {
			webT, webN = d, n
		} else {
			gwT, gwN = d, n
		}
	}
	mbps := func(n int64, d time.Duration) string { return fmt.Sprintf("%.0f MB/s", float64(n)/1e6/d.Seconds()) }
	ratio := gwT.Seconds() / webT.Seconds()
	b.table.add(row{metric: "web terminal: 100 MB of text in a shell", direct: mbps(gwN, gwT), bastion: mbps(webN, webT),
		ratio: fmt.Sprintf("%.2fx", ratio), target: ">= 0.80x", status: verdict(ratio >= 0.8)})

	n := b.opts.samples
	b.waitQuiet(ctx)
	gw, err := echoSamples(ctx, b.bastion.addrs.SSH, benchUser+"@"+benchAsset, b.alice.signer, n)
	if err != nil {
		return fmt.Errorf("gateway echo: %w", err)
	}
	b.waitQuiet(ctx)
	ws, err := b.openWebShell(ctx)
	if err != nil {
		return err
	}
	web, err := echoOn(ctx, ws, n)
	ws.close()
	if err != nil {
		return fmt.Errorf("web echo: %w", err)
	}
	slices.Sort(gw)
	slices.Sort(web)
	us := func(d time.Duration) string { return fmt.Sprintf("%.0f us", float64(d.Nanoseconds())/1e3) }
	for _, p := range []float64{50, 99} {
		gp, wp := percentile(gw, p), percentile(web, p)
		r := row{metric: fmt.Sprintf("web terminal: keystroke echo p%.0f", p), direct: us(gp), bastion: us(wp), ratio: fmt.Sprintf("%+.0f us", float64((wp-gp).Nanoseconds())/1e3)}
		if p == 99 {
			r.target, r.status = "added < 5 ms", verdict(wp-gp < 5*time.Millisecond)
		}
		b.table.add(r)
	}
	b.table.note("web terminal rows: the \"direct\" column is the SSH gateway (x/crypto client, pty, interactive shell), the \"bastion\" column the web terminal (WebSocket, same bastion, same target); throughput is `head -c 100000000 /dev/zero | tr '\\0' x | fold -w 100` until a marker, recorded and parsed for commands on both")
	return ctx.Err()
}
