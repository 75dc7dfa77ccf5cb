package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// RelayedStats is what the gateways' polling_relayed_seconds histograms
// counted during a run, summed over the nodes: polling requests a node
// passed to the node holding their session, and how long the holder took
// to answer (a relayed GET includes its long-poll wait).
type RelayedStats struct {
	GETs        int64   `json:"gets"`
	GETSeconds  float64 `json:"get_seconds"`
	POSTs       int64   `json:"posts"`
	POSTSeconds float64 `json:"post_seconds"`
}

// relayedMetric is the gateway's histogram of relayed polling requests.
const relayedMetric = "polling_relayed_seconds"

// metricsScrapeTimeout bounds reading one node's /metrics.
const metricsScrapeTimeout = 5 * time.Second

// scrapeRelayed reads polling_relayed_seconds from each node's /metrics;
// nil when no node answered with it.
func scrapeRelayed(ctx context.Context, urls []string) *RelayedStats {
	var out RelayedStats
	found := false
	for _, u := range urls {
		ctx, cancel := context.WithTimeout(ctx, metricsScrapeTimeout)
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u+"/metrics", nil)
		if err == nil {
			var resp *http.Response
			if resp, err = http.DefaultClient.Do(req); err == nil {
				found = parseRelayed(resp.Body, &out) || found
				resp.Body.Close()
			}
		}
		cancel()
	}
	if !found {
		return nil
	}
	return &out
}

// parseRelayed adds the _sum and _count series of polling_relayed_seconds
// in a Prometheus text exposition to s, and reports whether it saw any.
func parseRelayed(r io.Reader, s *RelayedStats) bool {
	found := false
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, relayedMetric+"_") {
			continue
		}
		name, rest, ok := strings.Cut(line, "{")
		if !ok {
			continue
		}
		labels, value, ok := strings.Cut(rest, "} ")
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(strings.Fields(value)[0], 64)
		if err != nil || math.IsNaN(v) {
			continue
		}
		get := strings.Contains(labels, `method="GET"`)
		post := strings.Contains(labels, `method="POST"`)
		switch {
		case name == relayedMetric+"_count" && get:
			s.GETs += int64(v)
		case name == relayedMetric+"_count" && post:
			s.POSTs += int64(v)
		case name == relayedMetric+"_sum" && get:
			s.GETSeconds += v
		case name == relayedMetric+"_sum" && post:
			s.POSTSeconds += v
		default:
			continue
		}
		found = true
	}
	return found
}

// relayMetrics are the rows the relay comparison adds to the cluster ones.
func relayMetrics() []metric {
	mean := func(n func(*RelayedStats) int64, sum func(*RelayedStats) float64) func(*Result) (float64, bool) {
		return func(r *Result) (float64, bool) {
			if r.Relayed == nil || n(r.Relayed) == 0 {
				return 0, false
			}
			return 1000 * sum(r.Relayed) / float64(n(r.Relayed)), true
		}
	}
	count := func(n func(*RelayedStats) int64) func(*Result) (float64, bool) {
		return func(r *Result) (float64, bool) {
			if r.Relayed == nil {
				return 0, false
			}
			return float64(n(r.Relayed)), true
		}
	}
	gets := func(s *RelayedStats) int64 { return s.GETs }
	posts := func(s *RelayedStats) int64 { return s.POSTs }
	return []metric{
		{"server CPU per delivery, all nodes (µs)", "%.2f", func(r *Result) (float64, bool) {
			if r.Server == nil || r.Received == 0 {
				return 0, false
			}
			return 1e6 * r.Server.CPUPublishSecs / float64(r.Received), true
		}},
		{"relayed GETs (polling_relayed_seconds count)", "%.0f", count(gets)},
		{"relayed GET mean, holder's answer incl. the long-poll wait (ms)", "%.2f", mean(gets, func(s *RelayedStats) float64 { return s.GETSeconds })},
		{"relayed POSTs", "%.0f", count(posts)},
		{"relayed POST mean (ms)", "%.3f", mean(posts, func(s *RelayedStats) float64 { return s.POSTSeconds })},
	}
}

// writeRelayMarkdown writes the relay comparison: direct and relayed polls
// side by side, with the relayed ÷ direct ratio, per-round p50/p99, each
// node's CPU, and any failure.
func (c *ClusterComparison) writeRelayMarkdown(w io.Writer) error {
	cc := c.Config
	var b strings.Builder
	fmt.Fprintf(&b, "## Relayed polls: %d clustered gateways, polling requests to the session's node vs another (%s)\n\n", cc.Nodes, c.Started.UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&b, "Machine: %s. Medians of %d rounds, measured alternately (direct, relayed, direct, …), each on freshly started processes.\n", machineText(), cc.Rounds)
	source := c.Source
	if source == "" {
		source = sourceText(cc.RepoDir)
	}
	fmt.Fprintf(&b, "Gateway source: %s.\n\n", source)
	fmt.Fprintf(&b, "Workload: %s. Both deployments are %d gateways clustered over embedded NATS; every subscriber's handshake and session are on node a, "+
		"and every message is published on node a. **direct**: the subscribers' POSTs and long polls go to node a. **relayed**: they go to node b, "+
		"which does not hold the sessions and relays each request over NATS to node a (the long poll waits on a). Server figures are summed over the nodes.\n\n",
		workloadText(cc.Workload), cc.Nodes)
	deps := cc.deployments()
	b.WriteString("| metric | direct | relayed | relayed/direct |\n|---|---:|---:|---:|\n")
	b.WriteString("| runs ok |")
	for _, d := range deps {
		total, failed := c.runs(d)
		fmt.Fprintf(&b, " %d/%d |", total-failed, total)
	}
	b.WriteString(" |\n")
	for _, m := range append(clusterMetrics(), relayMetrics()...) {
		x, y := Median(c.values(deps[0], m)), Median(c.values(deps[1], m))
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", m.name, numText(m.format, x), numText(m.format, y), ratioText(y, x))
	}
	b.WriteString("\n")
	node := func(i int, f func(NodeStats) float64) metric {
		return metric{get: func(r *Result) (float64, bool) {
			if r.Server == nil || len(r.Server.Nodes) <= i {
				return 0, false
			}
			return f(r.Server.Nodes[i]), true
		}}
	}
	b.WriteString("| node (medians) | direct: CPU while publishing (s) | relayed: CPU while publishing (s) |\n|---|---:|---:|\n")
	for i := range cc.Nodes {
		m := node(i, func(n NodeStats) float64 { return n.CPUPublishSecs })
		fmt.Fprintf(&b, "| %s | %s | %s |\n", nodeID(i), numText("%.2f", Median(c.values(deps[0], m))), numText("%.2f", Median(c.values(deps[1], m))))
	}
	b.WriteString("\n")
	fan := metricsFor(ScenarioFanout)
	for _, m := range []metric{fan[0], fan[2], otherCPU} {
		var parts []string
		for _, d := range deps {
			var vs []string
			for _, v := range c.values(d, m) {
				vs = append(vs, numText(m.format, v))
			}
			parts = append(parts, fmt.Sprintf("%s %s", d, strings.Join(vs, ", ")))
		}
		fmt.Fprintf(&b, "%s per round: %s.\n", m.name, strings.Join(parts, "; "))
	}
	b.WriteString("\n")
	c.writeRoundErrors(&b)
	_, err := io.WriteString(w, b.String())
	return err
}
