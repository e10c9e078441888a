package app

import (
	"context"
	"crypto/subtle"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"time"

	"github.com/portcullis/portcullis/backend/server"
)

// A Remote profile reaches a portcullisd over HTTPS whose certificate the user
// trusted on first use: the app pins its SHA-256 fingerprint. The window talks
// to a loopback proxy (guarded by the per-launch token, like the embedded
// backend) that forwards requests and WebSockets to the server over TLS and
// refuses any other certificate. The webview never has to accept a self-signed
// certificate, and terminal bytes go straight from the page's WebSocket through
// the proxy, never through Wails events or bindings.

// ErrCertificateChanged reports that a remote server presented another
// certificate than the pinned one.
var ErrCertificateChanged = errors.New("the server's certificate changed")

// CodeCertificateChanged is the API error code the proxy answers then.
const CodeCertificateChanged = "certificate_changed"

// normalizeURL checks a server URL: https, a host, nothing after the host.
func normalizeURL(raw string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return nil, fmt.Errorf("server URL: %w", err)
	}
	if u.Scheme != "https" {
		return nil, errors.New("server URL must start with https://")
	}
	if u.Host == "" || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return nil, errors.New("server URL must be https://host[:port]")
	}
	return &url.URL{Scheme: "https", Host: u.Host}, nil
}

// pinnedTLS is a TLS client configuration that accepts exactly the
// certificate with fingerprint pin (any certificate when pin is empty; got
// then receives what was seen).
func pinnedTLS(pin string, got *string) *tls.Config {
	return &tls.Config{
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: true, // replaced by the pin check below
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("no certificate")
			}
			fp := server.Fingerprint(cs.PeerCertificates[0].Raw) // the form portcullisd prints at start
			if got != nil {
				*got = fp
			}
			if pin != "" && subtle.ConstantTimeCompare([]byte(fp), []byte(pin)) != 1 {
				return fmt.Errorf("%w: pinned %s, presented %s", ErrCertificateChanged, pin, fp)
			}
			return nil
		},
	}
}

// RemoteProbe is what the app learns of a server before the user trusts it.
type RemoteProbe struct {
	URL         string `json:"url"`
	Fingerprint string `json:"fingerprint"`
	Subject     string `json:"subject"`
	NotAfter    string `json:"not_after"`
}

// probeRemote connects to a server, takes its certificate's fingerprint and
// checks that it is a Portcullis server (its /healthz and OpenAPI title).
func probeRemote(ctx context.Context, raw string) (RemoteProbe, error) {
	u, err := normalizeURL(raw)
	if err != nil {
		return RemoteProbe{}, err
	}
	var seen string
	tr := &http.Transport{TLSClientConfig: pinnedTLS("", &seen), TLSHandshakeTimeout: 10 * time.Second}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 15 * time.Second}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u.String()+"/api/v1/openapi.json", nil)
	res, err := client.Do(req)
	if err != nil {
		return RemoteProbe{}, fmt.Errorf("connect to %s: %w", u.Host, err)
	}
	defer res.Body.Close()
	var doc struct {
		Info struct {
			Title string `json:"title"`
		} `json:"info"`
	}
	if res.StatusCode != http.StatusOK || json.NewDecoder(io.LimitReader(res.Body, 4<<20)).Decode(&doc) != nil ||
		!strings.HasPrefix(doc.Info.Title, "Portcullis") {
		return RemoteProbe{}, fmt.Errorf("%s is not a Portcullis server", u.Host)
	}
	p := RemoteProbe{URL: u.String(), Fingerprint: seen}
	if res.TLS != nil && len(res.TLS.PeerCertificates) > 0 {
		c := res.TLS.PeerCertificates[0]
		p.Subject = c.Subject.String()
		p.NotAfter = c.NotAfter.UTC().Format(time.RFC3339)
	}
	return p, nil
}

// remoteProxy serves a Remote profile on a loopback port.
type remoteProxy struct {
	target *url.URL
	pin    string
	token  string
	origin string // the window's origin, allowed to call the proxy (CORS)
	log    *slog.Logger
	ln     net.Listener
	srv    *http.Server
}

// startRemoteProxy listens on 127.0.0.1:0 and forwards to target, accepting
// only the certificate pinned.
func startRemoteProxy(target *url.URL, pin, token, origin string, log *slog.Logger) (*remoteProxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("app: remote proxy: %w", err)
	}
	p := &remoteProxy{target: target, pin: pin, token: token, origin: origin, log: log, ln: ln}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = target.Host
			pr.Out.Header.Del("X-Portcullis-Launch")
			q := pr.Out.URL.Query()
			if q.Has("launch_token") {
				q.Del("launch_token")
				pr.Out.URL.RawQuery = q.Encode()
			}
			// The server checks the Origin of WebSockets and CORS calls: the
			// window's origin is ours to vouch for, so present the server's own.
			if pr.In.Header.Get("Origin") != "" {
				pr.Out.Header.Set("Origin", target.Scheme+"://"+target.Host)
			}
			pr.Out.Header.Del("X-Forwarded-For")
		},
		Transport: &http.Transport{
			TLSClientConfig:     pinnedTLS(pin, nil),
			TLSHandshakeTimeout: 10 * time.Second,
			IdleConnTimeout:     90 * time.Second,
			ForceAttemptHTTP2:   false,
		},
		ModifyResponse: func(res *http.Response) error {
			res.Header.Del("Access-Control-Allow-Origin")
			return nil
		},
		ErrorHandler: p.proxyError,
	}
	p.srv = &http.Server{Handler: p.guard(rp), ReadHeaderTimeout: 10 * time.Second}
	go p.srv.Serve(ln)
	return p, nil
}

// baseURL is where the window reaches the proxy.
func (p *remoteProxy) baseURL() string { return "http://" + p.ln.Addr().String() }

// guard answers CORS for the window and refuses requests without the launch token.
func (p *remoteProxy) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		if o := r.Header.Get("Origin"); o != "" && o == p.origin {
			h.Set("Access-Control-Allow-Origin", o)
			h.Set("Vary", "Origin")
			h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, X-Portcullis-Org, X-Portcullis-Launch")
			h.Set("Access-Control-Allow-Methods", "GET, POST, PUT, PATCH, DELETE, OPTIONS")
			h.Set("Access-Control-Max-Age", "600")
			if r.Method == http.MethodOptions {
				w.WriteHeader(http.StatusNoContent)
				return
			}
		} else if o != "" {
			writeProxyError(w, http.StatusForbidden, "forbidden", "origin not allowed")
			return
		}
		tok := r.Header.Get("X-Portcullis-Launch")
		if tok == "" {
			tok = r.URL.Query().Get("launch_token")
		}
		if subtle.ConstantTimeCompare([]byte(tok), []byte(p.token)) != 1 {
			writeProxyError(w, http.StatusForbidden, "forbidden", "missing or wrong launch token")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (p *remoteProxy) proxyError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, ErrCertificateChanged) {
		p.log.Error("remote server presented another certificate; refusing", "server", p.target.Host, "err", err)
		writeProxyError(w, http.StatusBadGateway, CodeCertificateChanged,
			fmt.Sprintf("%s presented another certificate than the one you trusted: %v. Someone may be intercepting the connection, or the server's certificate was replaced; check with its administrator before trusting it again.", p.target.Host, err))
		return
	}
	p.log.Warn("remote server unreachable", "server", p.target.Host, "path", r.URL.Path, "err", err)
	writeProxyError(w, http.StatusBadGateway, "unreachable", fmt.Sprintf("%s is unreachable: %v", p.target.Host, err))
}

func writeProxyError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": code, "message": msg}})
}

// close stops the proxy.
func (p *remoteProxy) close(ctx context.Context) error {
	return p.srv.Shutdown(ctx)
}
