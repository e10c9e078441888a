package httpapi

import (
	"crypto/subtle"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

type metrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

func newMetrics(reg *prometheus.Registry) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "portcullis", Name: "http_requests_total", Help: "HTTP requests by method, route group and status.",
		}, []string{"method", "group", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "portcullis", Name: "http_request_duration_seconds", Help: "HTTP request latency by route group.",
			Buckets: prometheus.DefBuckets,
		}, []string{"group"}),
	}
	reg.MustRegister(m.requests, m.latency)
	// Registering the Go and process collectors twice (embedded + tests) must not panic.
	_ = reg.Register(collectors.NewGoCollector())
	_ = reg.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// group keeps label cardinality bounded: "/api/v1/assets/12" -> "assets".
func group(path string) string {
	p, ok := strings.CutPrefix(path, "/api/v1/")
	if !ok {
		switch {
		case path == "/healthz", path == "/metrics":
			return strings.TrimPrefix(path, "/")
		}
		return "ui"
	}
	if i := strings.IndexByte(p, '/'); i >= 0 {
		p = p[:i]
	}
	if len(p) > 32 {
		return "other"
	}
	return p
}

func (m *metrics) observe(r *http.Request, status int, d time.Duration) {
	g := group(r.URL.Path)
	m.requests.WithLabelValues(r.Method, g, strconv.Itoa(status)).Inc()
	m.latency.WithLabelValues(g).Observe(d.Seconds())
}

func subtleEqual(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
