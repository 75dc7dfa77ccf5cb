package admin

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// stats is the "stats" event: totals read from the metrics registry. The
// counters are cumulative; the page turns them into rates from one event
// to the next, so nothing is kept here between reads.
type stats struct {
	Time           int64   `json:"time"` // unix ms
	Connections    float64 `json:"connections"`
	Rooms          float64 `json:"rooms"`
	Workspaces     float64 `json:"workspaces"`
	Broadcasts     float64 `json:"broadcasts"`
	Deliveries     float64 `json:"deliveries"`
	SecurityEvents float64 `json:"securityEvents"`
	Failures       float64 `json:"failures"`
	Restarts       float64 `json:"restarts"`
	SlowClients    float64 `json:"slowClients"`
	Fanout         hist    `json:"fanout"` // ws_publish_fanout_seconds
}

// hist is a cumulative histogram: Buckets are [upper bound, count ≤ it].
type hist struct {
	Count   uint64       `json:"count"`
	Sum     float64      `json:"sum"`
	Buckets [][2]float64 `json:"buckets"`
}

func readStats(g prometheus.Gatherer) (*stats, error) {
	mfs, err := g.Gather()
	if err != nil {
		return nil, err
	}
	s := &stats{Time: time.Now().UnixMilli(), Fanout: hist{Buckets: [][2]float64{}}}
	sums := map[string]*float64{
		"ws_connections_active":     &s.Connections,
		"ws_rooms_active":           &s.Rooms,
		"ws_workspaces_active":      &s.Workspaces,
		"ws_room_broadcasts_total":  &s.Broadcasts,
		"ws_room_deliveries_total":  &s.Deliveries,
		"ws_security_events_total":  &s.SecurityEvents,
		"actor_failures_total":      &s.Failures,
		"actor_restarts_total":      &s.Restarts,
		"ws_publish_fanout_seconds": nil,
	}
	for _, mf := range mfs {
		name := mf.GetName()
		dst, ok := sums[name]
		if !ok {
			continue
		}
		for _, m := range mf.GetMetric() {
			switch {
			case m.Histogram != nil && name == "ws_publish_fanout_seconds":
				s.Fanout = fromHistogram(m.Histogram)
			case dst != nil:
				*dst += value(m)
			}
		}
	}
	s.SlowClients = slowClients(mfs)
	return s, nil
}

// slowClients reads the slow-client disconnects from ws_disconnects_total.
func slowClients(mfs []*dto.MetricFamily) float64 {
	for _, mf := range mfs {
		if mf.GetName() != "ws_disconnects_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "reason" && l.GetValue() == "slow_client" {
					return value(m)
				}
			}
		}
	}
	return 0
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	}
	return 0
}

func fromHistogram(h *dto.Histogram) hist {
	out := hist{Count: h.GetSampleCount(), Sum: h.GetSampleSum(), Buckets: make([][2]float64, 0, len(h.GetBucket()))}
	for _, b := range h.GetBucket() {
		out.Buckets = append(out.Buckets, [2]float64{b.GetUpperBound(), float64(b.GetCumulativeCount())})
	}
	return out
}
