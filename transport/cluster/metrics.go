package cluster

import "github.com/prometheus/client_golang/prometheus"

// metrics are the node's collectors. Each carries the const label node=<id>,
// so several nodes (as in tests) can share a registry.
type metrics struct {
	reg        prometheus.Registerer
	collectors []prometheus.Collector

	sent          *prometheus.CounterVec // kind: room, reply, control
	received      *prometheus.CounterVec // kind: room, reply, control
	publishTime   prometheus.Histogram
	subscriptions prometheus.Gauge
	connected     prometheus.Gauge
	missing       prometheus.Counter
	partial       prometheus.Counter
	disconnects   prometheus.Counter
	errors        *prometheus.CounterVec // kind: decode, async, publish
	peers         prometheus.Gauge

	// Resolved children of sent and received (no label lookup on the hot path).
	sentRoom, sentReply, sentCtl prometheus.Counter
	recvRoom, recvReply, recvCtl prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, node string) (*metrics, error) {
	cl := prometheus.Labels{"node": node}
	m := &metrics{
		reg: reg,
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cluster_messages_sent_total", Help: "Messages this node sent to the cluster (NATS) by kind: room, reply, control.", ConstLabels: cl,
		}, []string{"kind"}),
		received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cluster_messages_received_total", Help: "Messages this node received from the cluster (NATS) by kind: room, reply, control.", ConstLabels: cl,
		}, []string{"kind"}),
		publishTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "cluster_publish_duration_seconds", Help: "Cluster publish latency: from send until every hosting node's count arrived (or the wait ended).", ConstLabels: cl,
			Buckets: []float64{50e-6, 100e-6, 200e-6, 400e-6, 800e-6, .0016, .0032, .0064, .0128, .025, .05, .1, .25, .5, 1},
		}),
		subscriptions: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "cluster_subscriptions", Help: "Room subjects this node is subscribed to (rooms with local members).", ConstLabels: cl,
		}),
		connected: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "cluster_nats_connected", Help: "1 while the NATS connection is up, else 0.", ConstLabels: cl,
		}),
		missing: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cluster_count_replies_missing_total", Help: "Hosting nodes whose recipient count did not arrive in time (one per missing node per publish).", ConstLabels: cl,
		}),
		partial: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cluster_partial_answers_total", Help: "Publishes answered with partial=true.", ConstLabels: cl,
		}),
		disconnects: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cluster_nats_disconnects_total", Help: "Times the NATS connection was lost.", ConstLabels: cl,
		}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cluster_errors_total", Help: "Cluster errors by kind: decode (malformed payload), async (NATS async error, e.g. slow consumer), publish.", ConstLabels: cl,
		}, []string{"kind"}),
		peers: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "cluster_peers", Help: "Other gateway nodes currently known through heartbeats.", ConstLabels: cl,
		}),
	}
	m.sentRoom, m.sentReply, m.sentCtl = m.sent.WithLabelValues("room"), m.sent.WithLabelValues("reply"), m.sent.WithLabelValues("control")
	m.recvRoom, m.recvReply, m.recvCtl = m.received.WithLabelValues("room"), m.received.WithLabelValues("reply"), m.received.WithLabelValues("control")
	for _, k := range []string{"decode", "async", "publish"} {
		m.errors.WithLabelValues(k)
	}
	m.collectors = []prometheus.Collector{m.sent, m.received, m.publishTime, m.subscriptions, m.connected, m.missing, m.partial, m.disconnects, m.errors, m.peers}
	if reg != nil {
		for i, c := range m.collectors {
			if err := reg.Register(c); err != nil {
				for _, r := range m.collectors[:i] {
					reg.Unregister(r)
				}
				return nil, err
			}
		}
	}
	return m, nil
}

// unregister removes the collectors, so a node restarted with the same id can
// register again on the same registry.
func (m *metrics) unregister() {
	if m.reg == nil {
		return
	}
	for _, c := range m.collectors {
		m.reg.Unregister(c)
	}
}
