package actors

import "github.com/prometheus/client_golang/prometheus"

// metrics are the actor tree's collectors. Gauges move only on lifecycle
// events (admission and Stopped, spawn and Terminated), so they return to
// zero however actors end.
type metrics struct {
	connectionsActive *prometheus.GaugeVec
	roomsActive       prometheus.Gauge
	workspacesActive  prometheus.Gauge
	deliveries        prometheus.Counter
	publishes         prometheus.Counter
	clientEvents      *prometheus.CounterVec
	recoveries        *prometheus.CounterVec
	sessionsKept      prometheus.Gauge
	presenceEvents    *prometheus.CounterVec
	publishFanout     prometheus.Histogram
	historyRefused    prometheus.Counter
}

// knownEvents bounds the event label of ws_client_events_total.
var knownEvents = map[string]bool{
	"join_room": true, "leave_room": true, "dashboard_action": true, "token_refresh": true, "state_sync": true, "presence": true,
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		connectionsActive: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ws_connections_active", Help: "Admitted, live Socket.IO connections by workspace.",
		}, []string{"workspace"}),
		roomsActive: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ws_rooms_active", Help: "Room actors alive, counting an empty room until its idle timeout ends it.",
		}),
		workspacesActive: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ws_workspaces_active", Help: "Workspace actors alive.",
		}),
		deliveries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ws_room_deliveries_total", Help: "Broadcast frames queued to room members.",
		}),
		publishes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ws_room_broadcasts_total", Help: "Broadcasts handled by rooms.",
		}),
		clientEvents: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ws_client_events_total", Help: "Client events by event name (other for unknown names) and outcome.",
		}, []string{"event", "outcome"}),
		recoveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ws_recoveries_total", Help: "Connection state recovery attempts (a CONNECT with a pid) by result.",
		}, []string{"result"}),
		sessionsKept: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ws_sessions_kept", Help: "Detached sessions kept for recovery (RECOVERY_WINDOW).",
		}),
		presenceEvents: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ws_presence_events_total", Help: "presence_join and presence_leave events raised by rooms (each sent to the room's other members).",
		}, []string{"event"}),
		publishFanout: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "ws_publish_fanout_seconds",
			Help: "Time from a publish entering the gateway (publish API, console) to its room's fan-out on this node ending: every member's queue took the frame.",
			// 50µs to ~1.2s: a small room's fan-out is tens of µs, a busy 10k room's milliseconds.
			Buckets: prometheus.ExponentialBuckets(0.00005, 2.5, 12),
		}),
		historyRefused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ws_history_refused_total",
			Help: "Broadcasts refused (not delivered) because the cluster's recovery history did not take them in time (clustered, recovery on).",
		}),
	}
	for _, r := range recoveryResults {
		m.recoveries.WithLabelValues(r)
	}
	m.presenceEvents.WithLabelValues("presence_join")
	m.presenceEvents.WithLabelValues("presence_leave")
	reg.MustRegister(m.connectionsActive, m.roomsActive, m.workspacesActive, m.deliveries, m.publishes, m.clientEvents,
		m.recoveries, m.sessionsKept, m.publishFanout, m.presenceEvents, m.historyRefused)
	return m
}

func eventLabel(name string) string {
	if knownEvents[name] {
		return name
	}
	return "other"
}
