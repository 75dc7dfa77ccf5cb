package transport

import "github.com/prometheus/client_golang/prometheus"

// metrics are the transport's collectors, registered on the injected registry.
type metrics struct {
	upgrades       *prometheus.CounterVec
	disconnects    *prometheus.CounterVec
	framesReceived prometheus.Counter
	framesSent     prometheus.Counter
	publishes      *prometheus.CounterVec
	relayed        *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		upgrades: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ws_upgrades_total", Help: "WebSocket upgrade attempts by result.",
		}, []string{"result"}),
		disconnects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ws_disconnects_total", Help: "Ended WebSocket connections by close reason.",
		}, []string{"reason"}),
		framesReceived: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ws_messages_received_total", Help: "Engine.IO packets received from clients.",
		}),
		framesSent: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ws_messages_sent_total", Help: "Engine.IO packets written to clients.",
		}),
		publishes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "publish_requests_total", Help: "POST /v1/publish requests by HTTP status.",
		}, []string{"status"}),
		relayed: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "polling_relayed_seconds",
			Help:    "Polling requests relayed to the node holding their session, by method, and how long the holder took to answer.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1, 5, 30},
		}, []string{"method"}),
	}
	reg.MustRegister(m.upgrades, m.disconnects, m.framesReceived, m.framesSent, m.publishes, m.relayed)
	return m
}
