package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
)

// KillResult is one chaos-kill run. Times are seconds from the stream's
// start unless named otherwise.
type KillResult struct {
	Config            string      `json:"config"`
	Machine           string      `json:"machine"`
	Binary            string      `json:"binary"`
	Joined            int         `json:"joined"`
	Published         int         `json:"published"`       // publishes answered 200
	PublishFailed     int         `json:"publish_failed"`  // not answered 200
	PublishPartial    int         `json:"publish_partial"` // answered partial
	StreamSeconds     float64     `json:"stream_s"`        // first publish → last answered
	DrainSeconds      float64     `json:"drain_s"`         // last answered → every connected subscriber had the last number
	StoreReadySeconds float64     `json:"store_ready_s"`   // nodes started → every node's JetStream recovery store ready (0: no store)
	ConvergeSeconds   float64     `json:"converge_s"`      // before the stream: the nodes agreeing on the room's members
	Load1Start        float64     `json:"load1_start"`     // the machine's 1-minute load when the stream started
	Load1End          float64     `json:"load1_end"`       // … and when it ended
	ServerCPUSeconds  float64     `json:"server_cpu_s"`    // the nodes' CPU from the stream's start to the drain's end
	OtherCPUSeconds   float64     `json:"other_cpu_s"`     // CPU other processes than the tool and the nodes took during the stream
	Reconnects        int         `json:"reconnects"`      // reconnections that succeeded
	Recovered         int         `json:"recovered"`       // … answered with the same sid
	Fresh             int         `json:"fresh"`           // … with a new sid (room joined again)
	Retried           int         `json:"retried"`         // reconnections that needed more than one attempt
	NotBack           int         `json:"not_back"`        // subscribers whose transport broke and who were not back when the run ended
	Groups            []KillGroup `json:"groups"`
	Kills             []KillKill  `json:"kills"`
	// KillToLastBack is, over the kills, the time from the SIGKILL to the
	// last subscriber of that node back (recovered or fresh), ms: p50, p99, max.
	KillToLastBackMS [3]float64 `json:"kill_to_last_back_ms"`
	// KillToBack is, over every reconnection, SIGKILL → back, ms: p50, p99, max.
	KillToBackMS [3]float64 `json:"kill_to_back_ms"`
	Errors       []string   `json:"errors,omitempty"`
	// LossSamples describes up to 10 subscribers whose every reconnection
	// recovered and who still lost numbers: what they missed and their
	// reconnections (broke → back, from → to node).
	LossSamples []string `json:"loss_samples,omitempty"`
}

// KillGroup is the numbered stream's accounting over some subscribers.
type KillGroup struct {
	Name        string `json:"name"`
	Subscribers int    `json:"subscribers"`
	Lost        int    `json:"lost"` // deliveries (number × subscriber) never received
	Dups        int    `json:"duplicates"`
	Reordered   int    `json:"out_of_order"`
}

// KillKill is one SIGKILL: the node's subscribers coming back.
type KillKill struct {
	Node        string  `json:"node"`
	At          float64 `json:"at_s"`
	RestartS    float64 `json:"restart_s"` // SIGKILL → the restarted node listening
	Subscribers int     `json:"subscribers"`
	Recovered   int     `json:"recovered"`
	Fresh       int     `json:"fresh"`
	// BackMS is SIGKILL → back over the node's subscribers: p50, p99, max (the last back).
	BackMS [3]float64 `json:"back_ms"`
	Err    string     `json:"error,omitempty"`
}

func (c KillConfig) summary() string {
	return fmt.Sprintf("%d subscribers on %d clustered gateways, one room; a numbered stream of %d messages at %g msg/s (%d-byte data) on node a; SIGKILL and restart of a node other than a every %s for %s; RECOVERY_WINDOW=%s; reconnect delay %s",
		c.Clients, c.Nodes, c.messages(), c.Rate, c.PayloadBytes, c.KillEvery, c.Duration, c.RecoveryWindow, c.ReconnectDelay)
}

// fill computes the result from the subscribers, publishes and kills.
func (res *KillResult) fill(kc KillConfig, subs []*killSub, outs []outcome, kills []killEvent, streamEnd time.Duration) {
	res.StreamSeconds = streamEnd.Seconds()
	refused := func(seq int) bool { return !outs[seq].ok() }
	for i := range outs {
		switch {
		case outs[i].ok():
			res.Published++
		default:
			res.PublishFailed++
			if len(res.Errors) < 5 && outs[i].err != "" {
				res.Errors = append(res.Errors, fmt.Sprintf("publish %d: %s", i, outs[i].err))
			}
		}
		if outs[i].partial {
			res.PublishPartial++
		}
	}
	groups := []KillGroup{{Name: "all joined"}, {Name: "never reconnected"}, {Name: "reconnected, every time within RECOVERY_WINDOW"},
		{Name: "… every reconnection recovered"}, {Name: "… at least one fresh session"}}
	add := func(g *KillGroup, s *killSub) {
		g.Subscribers++
		g.Lost += s.r.Seq.Lost(len(outs), refused)
		g.Dups += s.r.Seq.Dups
		g.Reordered += s.r.Seq.Reordered
	}
	for _, s := range subs {
		if !s.joined {
			continue
		}
		add(&groups[0], s)
		if len(s.reconnects) == 0 && s.r.Recovered+s.r.Fresh == 0 {
			add(&groups[1], s)
			continue
		}
		within, fresh := true, false
		for _, rc := range s.reconnects {
			res.Reconnects++
			if rc.recovered {
				res.Recovered++
			} else {
				res.Fresh++
				fresh = true
			}
			if rc.attempts > 1 {
				res.Retried++
			}
			if rc.back-rc.broke > kc.RecoveryWindow {
				within = false
			}
		}
		if within {
			add(&groups[2], s)
			if fresh {
				add(&groups[4], s)
			} else {
				add(&groups[3], s)
				if miss := s.r.Seq.Missing(len(outs), refused, 5); len(miss) > 0 && len(res.LossSamples) < 10 {
					res.LossSamples = append(res.LossSamples, s.lossSample(miss))
				}
			}
		}
	}
	res.Groups = groups
	for _, s := range subs {
		if s.joined && s.away {
			res.NotBack++
		}
	}
	var lastBacks, allBacks []int64
	for ki, e := range kills {
		kk := KillKill{Node: nodeID(e.node), At: e.at.Seconds(), RestartS: e.restarted.Seconds(), Err: e.err}
		end := streamEnd + kc.Drain
		if ki+1 < len(kills) {
			end = kills[ki+1].at
		}
		var backs []int64
		for _, s := range subs {
			for _, rc := range s.reconnects {
				if rc.from == e.node && rc.broke >= e.at && rc.broke < end {
					kk.Subscribers++
					if rc.recovered {
						kk.Recovered++
					} else {
						kk.Fresh++
					}
					backs = append(backs, int64(rc.back-e.at))
				}
			}
		}
		allBacks = append(allBacks, backs...)
		if len(backs) > 0 {
			sum := Summarize(backs)
			kk.BackMS = [3]float64{sum.P50, sum.P99, sum.Max}
			lastBacks = append(lastBacks, int64(sum.Max*float64(time.Millisecond)))
		}
		res.Kills = append(res.Kills, kk)
	}
	if len(lastBacks) > 0 {
		sum := Summarize(lastBacks)
		res.KillToLastBackMS = [3]float64{sum.P50, sum.P99, sum.Max}
	}
	if len(allBacks) > 0 {
		sum := Summarize(allBacks)
		res.KillToBackMS = [3]float64{sum.P50, sum.P99, sum.Max}
	}
}

// WriteKillMarkdown writes the run's tables.
func WriteKillMarkdown(w io.Writer, kc KillConfig, r KillResult) error {
	var b strings.Builder
	fmt.Fprintf(&b, "## chaos-kill — %s\n\n", r.Config)
	fmt.Fprintf(&b, "Machine: %s; load average (1 min) %.2f at the start, %.2f at the end; the nodes' CPU %.1f s and other processes' (not this tool's) %.1f s during the run. Gateway: `%s`.\n\n",
		r.Machine, r.Load1Start, r.Load1End, r.ServerCPUSeconds, r.OtherCPUSeconds, r.Binary)
	fmt.Fprintf(&b, "JetStream recovery store ready on every node %.1f s after the start (0: none); %d/%d subscribers joined; %d publishes answered 200 (%d failed, %d partial) over %.1f s; drain %.1f s.\n\n",
		r.StoreReadySeconds, r.Joined, kc.Clients, r.Published, r.PublishFailed, r.PublishPartial, r.StreamSeconds, r.DrainSeconds)
	b.WriteString("| subscribers | count | deliveries lost | duplicates | out of order |\n|---|---:|---:|---:|---:|\n")
	for _, g := range r.Groups {
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %d |\n", g.Name, g.Subscribers, g.Lost, g.Dups, g.Reordered)
	}
	fmt.Fprintf(&b, "\nReconnections: %d — **%d recovered** (same sid), **%d fresh**; %d needed more than one attempt; %d subscribers were not back when the run ended.\n\n",
		r.Reconnects, r.Recovered, r.Fresh, r.Retried, r.NotBack)
	b.WriteString("| kill | node | at | restarted in | its subscribers | recovered | fresh | kill → back p50 / p99 | kill → last back |\n|---:|---|---:|---:|---:|---:|---:|---:|---:|\n")
	for i, k := range r.Kills {
		fmt.Fprintf(&b, "| %d | %s | %.1f s | %.2f s | %d | %d | %d | %.0f / %.0f ms | %.0f ms |\n", i+1, k.Node, k.At, k.RestartS,
			k.Subscribers, k.Recovered, k.Fresh, k.BackMS[0], k.BackMS[1], k.BackMS[2])
	}
	fmt.Fprintf(&b, "\nKill → last subscriber of that node back, over the %d kills: p50 %.0f ms, p99 %.0f ms. Kill → back over every reconnection: p50 %.0f ms, p99 %.0f ms, max %.0f ms.\n",
		len(r.Kills), r.KillToLastBackMS[0], r.KillToLastBackMS[1], r.KillToBackMS[0], r.KillToBackMS[1], r.KillToBackMS[2])
	for _, l := range r.LossSamples {
		fmt.Fprintf(&b, "\n- recovered, yet lost numbers: %s", l)
	}
	for _, e := range r.Errors {
		fmt.Fprintf(&b, "\n- error: %s", e)
	}
	b.WriteString("\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteKillFiles writes chaos-kill.md and chaos-kill.json into kc.OutDir.
func WriteKillFiles(kc KillConfig, r KillResult) ([]string, error) {
	o, err := newOutDir(kc.OutDir)
	if err != nil {
		return nil, err
	}
	if err := o.write(killFileStem+".md", func(w io.Writer) error { return WriteKillMarkdown(w, kc, r) }); err != nil {
		return o.written, err
	}
	err = o.write(killFileStem+".json", func(w io.Writer) error { return json.NewEncoder(w).Encode(r) })
	return o.written, err
}

// ok reports whether every subscriber back within the window got every
// number once, in order.
func (r KillResult) ok() bool {
	for _, g := range r.Groups {
		if g.Name == "reconnected, every time within RECOVERY_WINDOW" || g.Name == "never reconnected" {
			if g.Lost+g.Dups+g.Reordered > 0 {
				return false
			}
		}
	}
	return len(r.Errors) == 0
}

// OK is ok for the command's exit code.
func (r KillResult) OK() bool { return r.ok() }

// lossSample describes what a subscriber missed and its reconnections.
func (s *killSub) lossSample(miss [][2]int) string {
	var b strings.Builder
	b.WriteString("missed")
	for _, m := range miss {
		fmt.Fprintf(&b, " %d–%d", m[0], m[1])
	}
	b.WriteString("; reconnections:")
	for _, rc := range s.reconnects {
		fmt.Fprintf(&b, " %s→%s broke %.2fs back %.2fs (recovered %t);", nodeID(rc.from), nodeID(rc.to), rc.broke.Seconds(), rc.back.Seconds(), rc.recovered)
	}
	return b.String()
}
