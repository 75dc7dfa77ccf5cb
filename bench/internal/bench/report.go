package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
)

// WriteTable writes res as an aligned two-column table for people.
func WriteTable(w io.Writer, res *Result) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(k, format string, a ...any) { fmt.Fprintf(tw, "%s\t"+format+"\n", append([]any{k}, a...)...) }
	title := string(res.Scenario)
	if res.Peer != "" {
		title += " on " + res.Peer
	}
	row("scenario", "%s (%s)", title, res.Target)
	if len(res.Targets) > 1 || res.PublishTarget != "" {
		row("servers", "subscribers spread over %d, publishing on %s", len(res.Targets), res.PublishTarget)
	}
	row("workload", "%d clients, %d rooms, %d messages at %s, %d-byte payload",
		res.Clients, res.Rooms, res.Messages, rateText(res.Rate), res.PayloadBytes)
	row("connections", "%d made, %d failed in %.2fs (%.0f conns/s)", res.Connected, res.ConnectFailed, res.ConnectSeconds, res.ConnsPerSecond)
	row("connect+join", "%s", latencyText(res.ConnectLatency))
	if res.ConvergeProbes > 0 {
		row("converged", "%.2fs until probes counted every member (%d probes)", res.ConvergeSeconds, res.ConvergeProbes)
	}
	if res.Messages > 0 {
		row("published", "%d accepted, %d failed in %.2fs (%.1f msg/s)", res.Published, res.PublishFailed, res.PublishSeconds, res.PublishRate)
		if res.PublishPartial > 0 {
			row("partial", "%d accepted publishes answered partial (a node's recipients count did not arrive in time)", res.PublishPartial)
		}
		row("publish request", "%s", latencyText(res.PublishLatency))
		row("deliveries", "%d expected, %d received, %d lost (%.3f%%), %d duplicates; server said %d recipients",
			res.Expected, res.Received, res.Lost, res.LossPercent, res.Duplicates, res.ServerRecipients)
		row("latency", "%s", latencyText(res.Latency))
		for _, t := range res.PerTarget {
			row("  via "+t.Target, "%d/%d subscribers; %s", t.Connected, t.Clients, latencyText(t.Latency))
		}
		row("throughput", "%.0f deliveries/s", res.DeliveriesPerSec)
	}
	row("disconnects", "%d during the run", res.Disconnects)
	if s := res.Server; s != nil {
		row("server RSS", "start %.1f MB, connected %.1f MB, end %.1f MB, peak %.1f MB", s.RSSStartMB, s.RSSConnectedMB, s.RSSEndMB, s.PeakRSSMB)
		row("RSS per conn", "%.1f KB", s.RSSPerConnKB)
		row("server CPU", "%.2f s (publishing %.2f s)", s.CPUSeconds, s.CPUPublishSecs)
		if s.OtherCPUSeconds != nil {
			row("other CPU", "%.2f s by other processes and kernel threads during the run", *s.OtherCPUSeconds)
		}
		for i, n := range s.Nodes {
			row(fmt.Sprintf("  node %d", i+1), "pid %d: RSS connected %.1f MB, peak %.1f MB; CPU %.2f s (publishing %.2f s)",
				n.PID, n.RSSConnectedMB, n.PeakRSSMB, n.CPUSeconds, n.CPUPublishSecs)
		}
		if s.WritesPublish > 0 && res.Received > 0 {
			row("server writes", "%d write calls while publishing (%.2f deliveries per write)", s.WritesPublish, float64(res.Received)/float64(s.WritesPublish))
		}
	}
	if c := res.Chaos; c != nil {
		row("faults", "%d room, %d connection, %d missed", c.RoomFaults, c.ConnFaults, c.FaultsMissed)
		row("crashed", "%d messages excused (%d deliveries)", c.CrashedMessages, c.CrashedDeliveries)
		row("lost beyond", "%d of %d deliveries to untargeted clients", c.LostBeyondCrashed, c.ExpectedUntargeted)
		row("disconnects", "%d untargeted, %d targeted (%d closed 1011), %d reconnected", c.UntargetedDisconnect, c.TargetedDisconnects, c.Closes1011, c.Reconnected)
		row("error events", "%d (%d rejoins after ROOM_FAILED)", c.ErrorEvents, c.Rejoins)
		row("room recovery", "%s", latencyText(c.RoomRecovery))
		row("conn recovery", "%s", latencyText(c.ConnRecovery))
		row("RSS", "before %.1f MB, after %.1f MB", c.RSSBeforeMB, c.RSSAfterMB)
	}
	row("duration", "%.1fs", res.DurationSeconds)
	for _, e := range res.Errors {
		row("error", "%s", e)
	}
	return tw.Flush()
}

// WriteJSON writes res as one JSON line.
func WriteJSON(w io.Writer, res *Result) error {
	b, err := json.Marshal(res)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

func latencyText(l LatencySummary) string {
	if l.Count == 0 {
		return "-"
	}
	return fmt.Sprintf("p50 %.2f  p90 %.2f  p99 %.2f  p99.9 %.2f  max %.2f ms (n=%d)", l.P50, l.P90, l.P99, l.P999, l.Max, l.Count)
}

func rateText(rate float64) string {
	if rate == 0 {
		return "max rate"
	}
	return fmt.Sprintf("%g msg/s", rate)
}
