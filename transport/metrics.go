package transport

import "github.com/prometheus/client_golang/prometheus"

// metrics are the transport's collectors, registered on the injected registry.
type metrics struct {
	upgrades       *prometheus.CounterVec
	disconnects    *prometheus.CounterVec
	framesReceived prometheus.Counter
	framesSent     prometheus.Counter
	publishes      *prometheus.CounterVec
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
	}
	reg.MustRegister(m.upgrades, m.disconnects, m.framesReceived, m.framesSent, m.publishes)
	return m
}
