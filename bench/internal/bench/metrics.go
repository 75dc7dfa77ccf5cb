package bench

// metric is one row of a compare table: a figure read from a Result.
type metric struct {
	name   string
	format string
	get    func(r *Result) (float64, bool)
}

func always(f func(r *Result) float64) func(r *Result) (float64, bool) {
	return func(r *Result) (float64, bool) { return f(r), true }
}

func server(f func(s *ServerStats) float64) func(r *Result) (float64, bool) {
	return func(r *Result) (float64, bool) {
		if r.Server == nil {
			return 0, false
		}
		return f(r.Server), true
	}
}

func chaos(f func(c *ChaosStats) float64) func(r *Result) (float64, bool) {
	return func(r *Result) (float64, bool) {
		if r.Chaos == nil {
			return 0, false
		}
		return f(r.Chaos), true
	}
}

// headlineOf is the metric of scenario s shown for every round.
func headlineOf(s Scenario) metric {
	ms := metricsFor(s)
	switch s {
	case ScenarioFanout, ScenarioRooms:
		return ms[2] // p99
	}
	return ms[0]
}

// metricsFor lists the rows of scenario s's table.
func metricsFor(s Scenario) []metric {
	latency := []metric{
		{"latency p50 (ms)", "%.2f", always(func(r *Result) float64 { return r.Latency.P50 })},
		{"latency p90 (ms)", "%.2f", always(func(r *Result) float64 { return r.Latency.P90 })},
		{"latency p99 (ms)", "%.2f", always(func(r *Result) float64 { return r.Latency.P99 })},
		{"latency p99.9 (ms)", "%.2f", always(func(r *Result) float64 { return r.Latency.P999 })},
		{"latency max (ms)", "%.2f", always(func(r *Result) float64 { return r.Latency.Max })},
	}
	loss := metric{"loss (%)", "%.3f", always(func(r *Result) float64 { return r.LossPercent })}
	rate := metric{"deliveries/s", "%.0f", always(func(r *Result) float64 { return r.DeliveriesPerSec })}
	cpuPub := metric{"server CPU while publishing (s)", "%.2f", server(func(s *ServerStats) float64 { return s.CPUPublishSecs })}
	cpuPerDelivery := metric{"server CPU per delivery (µs)", "%.2f", func(r *Result) (float64, bool) {
		if r.Server == nil || r.Received == 0 {
			return 0, false
		}
		return 1e6 * r.Server.CPUPublishSecs / float64(r.Received), true
	}}
	cpu := metric{"server CPU, whole run (s)", "%.2f", server(func(s *ServerStats) float64 { return s.CPUSeconds })}
	peak := metric{"server peak RSS (MB)", "%.1f", server(func(s *ServerStats) float64 { return s.PeakRSSMB })}
	perConn := metric{"server RSS per connection (KB)", "%.1f", server(func(s *ServerStats) float64 { return s.RSSPerConnKB })}
	perWrite := metric{"deliveries per server write call", "%.2f", func(r *Result) (float64, bool) {
		if r.Server == nil || r.Server.WritesPublish <= 0 {
			return 0, false
		}
		return float64(r.Received) / float64(r.Server.WritesPublish), true
	}}
	connect := metric{"connect+join all (s)", "%.2f", always(func(r *Result) float64 { return r.ConnectSeconds })}

	switch s {
	case ScenarioFanout, ScenarioRooms:
		return append(latency, loss, rate, cpuPub, cpuPerDelivery, perWrite, peak, perConn, connect)
	case ScenarioBurst:
		return []metric{rate,
			{"publishes accepted/s", "%.0f", always(func(r *Result) float64 { return r.PublishRate })},
			{"publish+deliver all (s)", "%.2f", always(func(r *Result) float64 {
				if r.DeliveriesPerSec == 0 {
					return 0
				}
				return float64(r.Received) / r.DeliveriesPerSec
			})},
			latency[0], latency[2], latency[4], loss, cpuPub, cpuPerDelivery, perWrite, peak}
	case ScenarioStorm:
		return []metric{
			{"connections/s", "%.0f", always(func(r *Result) float64 { return r.ConnsPerSecond })},
			connect,
			{"connect+join p50 (ms)", "%.1f", always(func(r *Result) float64 { return r.ConnectLatency.P50 })},
			{"connect+join p99 (ms)", "%.1f", always(func(r *Result) float64 { return r.ConnectLatency.P99 })},
			{"connections failed", "%.0f", always(func(r *Result) float64 { return float64(r.ConnectFailed) })},
			{"clients upgraded to WebSocket", "%.0f", func(r *Result) (float64, bool) {
				return float64(r.Upgraded), r.Transport == TransportDefault
			}},
			cpu, peak}
	case ScenarioIdle:
		return []metric{perConn,
			{"server RSS at N connections (MB)", "%.1f", server(func(s *ServerStats) float64 { return s.RSSConnectedMB })},
			{"server RSS before connecting (MB)", "%.1f", server(func(s *ServerStats) float64 { return s.RSSStartMB })},
			peak, cpu,
			{"connections failed", "%.0f", always(func(r *Result) float64 { return float64(r.ConnectFailed) })}}
	case ScenarioChaos:
		return []metric{
			{"deliveries lost beyond crashed messages", "%.0f", chaos(func(c *ChaosStats) float64 { return float64(c.LostBeyondCrashed) })},
			{"faults injected (room + connection)", "%.0f", chaos(func(c *ChaosStats) float64 { return float64(c.RoomFaults + c.ConnFaults) })},
			{"messages that crashed a room", "%.0f", chaos(func(c *ChaosStats) float64 { return float64(c.CrashedMessages) })},
			{"untargeted clients disconnected", "%.0f", chaos(func(c *ChaosStats) float64 { return float64(c.UntargetedDisconnect) })},
			{"targeted clients closed 1011", "%.0f", chaos(func(c *ChaosStats) float64 { return float64(c.Closes1011) })},
			{"room recovery p50 (ms)", "%.1f", chaos(func(c *ChaosStats) float64 { return c.RoomRecovery.P50 })},
			{"room recovery max (ms)", "%.1f", chaos(func(c *ChaosStats) float64 { return c.RoomRecovery.Max })},
			{"connection recovery p50 (ms)", "%.1f", chaos(func(c *ChaosStats) float64 { return c.ConnRecovery.P50 })},
			{"connection recovery max (ms)", "%.1f", chaos(func(c *ChaosStats) float64 { return c.ConnRecovery.Max })},
			latency[0], latency[2],
			{"RSS before faults (MB)", "%.1f", chaos(func(c *ChaosStats) float64 { return c.RSSBeforeMB })},
			{"RSS after faults (MB)", "%.1f", chaos(func(c *ChaosStats) float64 { return c.RSSAfterMB })},
		}
	}
	return nil
}
