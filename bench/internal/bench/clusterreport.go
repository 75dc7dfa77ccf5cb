package bench

import (
	"fmt"
	"io"
	"math"
	"strings"
)

// summary is the one line a measurement leaves on the log.
func (m ClusterMeasurement) summary() string {
	cm := Measurement{Scenario: ScenarioFanout, Peer: PeerKind(m.Deployment), Round: m.Round, Result: m.Result, Err: m.Err}
	s := cm.summary()
	if r := m.Result; r != nil && (r.ConvergeProbes > 0 || r.PublishPartial > 0) {
		s += fmt.Sprintf(" [converged in %.2fs, %d partial answers]", r.ConvergeSeconds, r.PublishPartial)
	}
	if r := m.Result; r != nil && r.JetStreamNodes > 0 {
		s += fmt.Sprintf(" [JetStream on %d nodes, stores ready after %.2fs]", r.JetStreamNodes, r.StoreReadySeconds)
	}
	if r := m.Result; r != nil && r.Server != nil && r.Server.OtherCPUSeconds != nil {
		s += fmt.Sprintf(" [other processes' CPU %.2fs]", *r.Server.OtherCPUSeconds)
	}
	return s
}

// values returns the metric's value in every measurement of deployment d
// that produced a Result.
func (c *ClusterComparison) values(d Deployment, m metric) []float64 {
	var out []float64
	for _, ms := range c.Measurements {
		if ms.Deployment == d && ms.Result != nil {
			if v, ok := m.get(ms.Result); ok {
				out = append(out, v)
			}
		}
	}
	return out
}

// Failed counts the measurements that failed or were cut short.
func (c *ClusterComparison) Failed() int {
	n := 0
	for _, ms := range c.Measurements {
		if ms.Err != "" {
			n++
		}
	}
	return n
}

// runs counts deployment d's measurements, and those that failed.
func (c *ClusterComparison) runs(d Deployment) (total, failed int) {
	for _, ms := range c.Measurements {
		if ms.Deployment == d {
			total++
			if ms.Err != "" {
				failed++
			}
		}
	}
	return total, failed
}

// otherCPU is the CPU time other processes took during a run: a
// measurement that shared the machine shows here.
var otherCPU = metric{"CPU of other processes during the run (s)", "%.2f", func(r *Result) (float64, bool) {
	if r.Server == nil || r.Server.OtherCPUSeconds == nil {
		return 0, false
	}
	return *r.Server.OtherCPUSeconds, true
}}

// clusterMetrics lists the rows of the comparison's table.
func clusterMetrics() []metric {
	fan := metricsFor(ScenarioFanout)
	byName := map[string]metric{}
	for _, m := range fan {
		byName[m.name] = m
	}
	pick := func(name string) metric { return byName[name] }
	return []metric{
		pick("latency p50 (ms)"), pick("latency p90 (ms)"), pick("latency p99 (ms)"),
		pick("latency p99.9 (ms)"), pick("latency max (ms)"), pick("loss (%)"), pick("deliveries/s"),
		{"publishes accepted/s", "%.0f", always(func(r *Result) float64 { return r.PublishRate })},
		{"publish request p50 (ms)", "%.2f", always(func(r *Result) float64 { return r.PublishLatency.P50 })},
		{"publish request p99 (ms)", "%.2f", always(func(r *Result) float64 { return r.PublishLatency.P99 })},
		{"publishes answered partial", "%.0f", always(func(r *Result) float64 { return float64(r.PublishPartial) })},
		{"server recipients ÷ expected deliveries", "%.4f", func(r *Result) (float64, bool) {
			if r.Expected == 0 {
				return 0, false
			}
			return float64(r.ServerRecipients) / float64(r.Expected), true
		}},
		{"probes until every member counted (s)", "%.3f", always(func(r *Result) float64 { return r.ConvergeSeconds })},
		{"server CPU while publishing, all nodes (s)", "%.2f", server(func(s *ServerStats) float64 { return s.CPUPublishSecs })},
		pick("server CPU per delivery (µs)"),
		{"server CPU whole run, all nodes (s)", "%.2f", server(func(s *ServerStats) float64 { return s.CPUSeconds })},
		{"server RSS connected, all nodes (MB)", "%.1f", server(func(s *ServerStats) float64 { return s.RSSConnectedMB })},
		{"server peak RSS, all nodes (MB)", "%.1f", server(func(s *ServerStats) float64 { return s.PeakRSSMB })},
		pick("connect+join all (s)"),
		{"nodes running JetStream (recovery store)", "%.0f", always(func(r *Result) float64 { return float64(r.JetStreamNodes) })},
		{"wait for the recovery stores (s)", "%.2f", func(r *Result) (float64, bool) { return r.StoreReadySeconds, r.JetStreamNodes > 0 }},
		otherCPU,
	}
}

// P99Ratio is the median cluster p99 over the median single-node p99 (with
// -relay: relayed over direct; NaN when either has no measurement).
func (c *ClusterComparison) P99Ratio() float64 {
	if c.Config.Relay {
		return c.p99Ratio(DeployRelayed, DeployDirect)
	}
	return c.p99Ratio(DeployCluster, DeploySingle)
}

// RecoveryRatios are, with -recovery, the median delivery p99 with
// recovery on over that with it off, for the single gateway and for the
// cluster (NaN where a deployment has no measurement).
func (c *ClusterComparison) RecoveryRatios() (single, cluster float64) {
	return c.p99Ratio(DeploySingle, DeploySingleNoRecovery), c.p99Ratio(DeployCluster, DeployClusterNoRecovery)
}

// p99Ratio is deployment num's median delivery p99 over den's; NaN when
// either has no measurement or den's is 0.
func (c *ClusterComparison) p99Ratio(num, den Deployment) float64 {
	p99 := metric{get: always(func(r *Result) float64 { return r.Latency.P99 })}
	x, y := Median(c.values(num, p99)), Median(c.values(den, p99))
	if math.IsNaN(x) || math.IsNaN(y) || y == 0 {
		return math.NaN()
	}
	return x / y
}

// verdictText says whether ratio meets the target (≤ target).
func verdictText(ratio, target float64) string {
	switch {
	case math.IsNaN(ratio):
		return "not measured"
	case ratio > target:
		return "**missed**"
	}
	return "met"
}

// WriteMarkdown writes the comparison as markdown: the machine and
// workload, the p99 verdict against the target, a table of medians with
// the cluster/single ratio, the per-round p99, each node's share, and any
// failure word for word.
func (c *ClusterComparison) WriteMarkdown(w io.Writer) error {
	cc := c.Config
	if cc.Relay {
		return c.writeRelayMarkdown(w)
	}
	if cc.Recovery {
		return c.writeRecoveryMarkdown(w)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "## Cross-node fan-out: %d clustered gateways vs one (%s)\n\n", cc.Nodes, c.Started.UTC().Format("2006-01-02 15:04 MST"))
	c.writeSetup(&b, "measured alternately (single, cluster, single, …)")
	fmt.Fprintf(&b, "Workload: %s. **single**: one gateway (no NATS). **cluster**: %d gateways, each with an embedded NATS server routed to every node's "+
		"(a full mesh; with recovery on, the default, they keep the rooms' history in JetStream); "+
		"the subscribers are spread round-robin over the nodes (%s), every message is published on node 1, so %d/%d of the deliveries cross NATS. "+
		"Before publishing, both wait until a probe publish counts every subscriber.\n\n",
		workloadText(cc.Workload), cc.Nodes, spreadText(cc.Workload.Clients, cc.Nodes), cc.Nodes-1, cc.Nodes)

	ratio := c.P99Ratio()
	fmt.Fprintf(&b, "**Delivery latency p99, cluster ÷ single: %s (target ≤ %.2g×: %s).**\n\n", ratioText(ratio, 1), cc.P99Target, verdictText(ratio, cc.P99Target))

	deps := []Deployment{DeploySingle, DeployCluster}
	fmt.Fprintf(&b, "| metric | single node | %d-node cluster | cluster/single |\n|---|---:|---:|---:|\n", cc.Nodes)
	b.WriteString("| runs ok |")
	for _, d := range deps {
		total, failed := c.runs(d)
		fmt.Fprintf(&b, " %d/%d |", total-failed, total)
	}
	b.WriteString(" |\n")
	for _, m := range clusterMetrics() {
		s, k := Median(c.values(DeploySingle, m)), Median(c.values(DeployCluster, m))
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", m.name, numText(m.format, s), numText(m.format, k), ratioText(k, s))
	}
	b.WriteString("\n")
	c.writePerRound(&b, deps)
	c.writeNodes(&b, DeployCluster, "Per cluster node (medians)")

	c.writeRoundErrors(&b)
	_, err := io.WriteString(w, b.String())
	return err
}

// writeSetup writes the machine, the rounds and how they were ordered, and
// the gateway's source.
func (c *ClusterComparison) writeSetup(b *strings.Builder, order string) {
	fmt.Fprintf(b, "Machine: %s. Medians of %d rounds, %s, each on freshly started processes.\n", machineText(), c.Config.Rounds, order)
	source := c.Source
	if source == "" {
		source = sourceText(c.Config.RepoDir)
	}
	fmt.Fprintf(b, "Gateway source: %s.\n\n", source)
}

// writeRecoveryMarkdown writes the -recovery comparison: single and
// cluster with recovery on and off side by side, the on ÷ off p99 ratios
// against the bar, each node's share, and any failure.
func (c *ClusterComparison) writeRecoveryMarkdown(w io.Writer) error {
	cc := c.Config
	var b strings.Builder
	fmt.Fprintf(&b, "## Connection state recovery on vs off: one gateway and %d clustered (%s)\n\n", cc.Nodes, c.Started.UTC().Format("2006-01-02 15:04 MST"))
	c.writeSetup(&b, "deployments measured in rotation (single, single-norecovery, cluster, cluster-norecovery, single, …)")
	fmt.Fprintf(&b, "Workload: %s. **single**: one gateway (no NATS) with recovery on (the default RECOVERY_WINDOW: every broadcast numbered and kept on the node). "+
		"**single-norecovery**: the same with RECOVERY_WINDOW=0. **cluster**: %d gateways, each with an embedded NATS server routed to every node's (a full mesh), "+
		"recovery on: every broadcast is numbered and kept in JetStream for recovery on any node; the subscribers are spread round-robin over the nodes (%s), "+
		"every message is published on node 1, so %d/%d of the deliveries cross NATS. **cluster-norecovery**: the same nodes with RECOVERY_WINDOW=0 (no JetStream). "+
		"Before publishing, each waits until a probe publish counts every subscriber.\n\n",
		workloadText(cc.Workload), cc.Nodes, spreadText(cc.Workload.Clients, cc.Nodes), cc.Nodes-1, cc.Nodes)

	single, cluster := c.RecoveryRatios()
	fmt.Fprintf(&b, "**Delivery latency p99, single recovery on ÷ off: %s (bar ≤ %.2g×: %s).**\n\n", ratioText(single, 1), recoveryP99Bar, verdictText(single, recoveryP99Bar))
	fmt.Fprintf(&b, "**Delivery latency p99, cluster recovery on ÷ off: %s.**\n\n", ratioText(cluster, 1))
	ratio := c.P99Ratio()
	fmt.Fprintf(&b, "Delivery latency p99, cluster ÷ single, both with recovery on: %s (target ≤ %.2g×: %s).\n\n", ratioText(ratio, 1), cc.P99Target, verdictText(ratio, cc.P99Target))

	deps := cc.deployments()
	b.WriteString("| metric |")
	for _, d := range deps {
		fmt.Fprintf(&b, " %s |", d)
	}
	b.WriteString(" single on/off | cluster on/off |\n|---|" + strings.Repeat("---:|", len(deps)+2) + "\n| runs ok |")
	for _, d := range deps {
		total, failed := c.runs(d)
		fmt.Fprintf(&b, " %d/%d |", total-failed, total)
	}
	b.WriteString(" | |\n")
	for _, m := range clusterMetrics() {
		med := map[Deployment]float64{}
		fmt.Fprintf(&b, "| %s |", m.name)
		for _, d := range deps {
			med[d] = Median(c.values(d, m))
			fmt.Fprintf(&b, " %s |", numText(m.format, med[d]))
		}
		fmt.Fprintf(&b, " %s | %s |\n", ratioText(med[DeploySingle], med[DeploySingleNoRecovery]), ratioText(med[DeployCluster], med[DeployClusterNoRecovery]))
	}
	b.WriteString("\n")
	c.writePerRound(&b, deps)
	c.writeNodes(&b, DeployCluster, "Per cluster node, recovery on (medians)")
	c.writeNodes(&b, DeployClusterNoRecovery, "Per cluster node, recovery off (medians)")
	c.writeRoundErrors(&b)
	_, err := io.WriteString(w, b.String())
	return err
}

// writePerRound shows the delivery p99 and the other processes' CPU of
// every measurement of deps, so a median can be judged against its spread.
func (c *ClusterComparison) writePerRound(b *strings.Builder, deps []Deployment) {
	for _, m := range []metric{metricsFor(ScenarioFanout)[2], otherCPU} {
		var parts []string
		for _, d := range deps {
			var vs []string
			for _, v := range c.values(d, m) {
				vs = append(vs, numText(m.format, v))
			}
			parts = append(parts, fmt.Sprintf("%s %s", d, strings.Join(vs, ", ")))
		}
		fmt.Fprintf(b, "%s per round: %s.\n", m.name, strings.Join(parts, "; "))
	}
	b.WriteString("\n")
}

// writeRoundErrors lists every failed round and every error a round reported.
func (c *ClusterComparison) writeRoundErrors(b *strings.Builder) {
	for _, ms := range c.Measurements {
		if ms.Err != "" {
			fmt.Fprintf(b, "- %s round %d: `%s`\n", ms.Deployment, ms.Round, oneLine(ms.Err))
		}
		if ms.Result != nil {
			for _, e := range ms.Result.Errors {
				fmt.Fprintf(b, "- %s round %d: %s\n", ms.Deployment, ms.Round, oneLine(e))
			}
		}
	}
	b.WriteString("\n")
}

// writeNodes shows each node's share in deployment d (medians over the
// rounds), under heading: its subscribers' delivery latency, and its part
// of the summed server figures.
func (c *ClusterComparison) writeNodes(b *strings.Builder, d Deployment, heading string) {
	n := c.Config.Nodes
	per := make([]int, n)
	for _, t := range spreadTargets(c.Config.Workload.Clients, 1, n) {
		per[t]++
	}
	target := func(f func(TargetStats) float64) func(*Result, int) (float64, bool) {
		return func(r *Result, i int) (float64, bool) {
			if len(r.PerTarget) != n {
				return 0, false
			}
			return f(r.PerTarget[i]), true
		}
	}
	node := func(f func(NodeStats) float64) func(*Result, int) (float64, bool) {
		return func(r *Result, i int) (float64, bool) {
			if r.Server == nil || len(r.Server.Nodes) != n {
				return 0, false
			}
			return f(r.Server.Nodes[i]), true
		}
	}
	rows := []struct {
		name, format string
		get          func(*Result, int) (float64, bool)
	}{
		{"its subscribers' latency p50 (ms)", "%.2f", target(func(t TargetStats) float64 { return t.Latency.P50 })},
		{"its subscribers' latency p99 (ms)", "%.2f", target(func(t TargetStats) float64 { return t.Latency.P99 })},
		{"its subscribers' latency max (ms)", "%.2f", target(func(t TargetStats) float64 { return t.Latency.Max })},
		{"CPU while publishing (s)", "%.2f", node(func(s NodeStats) float64 { return s.CPUPublishSecs })},
		{"CPU whole run (s)", "%.2f", node(func(s NodeStats) float64 { return s.CPUSeconds })},
		{"RSS connected (MB)", "%.1f", node(func(s NodeStats) float64 { return s.RSSConnectedMB })},
		{"peak RSS (MB)", "%.1f", node(func(s NodeStats) float64 { return s.PeakRSSMB })},
	}
	var table strings.Builder
	table.WriteString("| cluster node |")
	for i := range n {
		role := ""
		if i == 0 {
			role = ", publishes"
		}
		fmt.Fprintf(&table, " %s (%d subscribers%s) |", nodeID(i), per[i], role)
	}
	table.WriteString("\n|---|" + strings.Repeat("---:|", n) + "\n")
	found := false
	for _, r := range rows {
		fmt.Fprintf(&table, "| %s |", r.name)
		for i := range n {
			var vs []float64
			for _, ms := range c.Measurements {
				if ms.Deployment == d && ms.Result != nil {
					if v, ok := r.get(ms.Result, i); ok {
						vs = append(vs, v)
					}
				}
			}
			found = found || len(vs) > 0
			fmt.Fprintf(&table, " %s |", numText(r.format, Median(vs)))
		}
		table.WriteString("\n")
	}
	if found {
		b.WriteString(heading + ":\n\n" + table.String() + "\n")
	}
}

// spreadText describes how n subscribers fall on the nodes, e.g. "334, 333, 333".
func spreadText(n, nodes int) string {
	per := make([]int, nodes)
	for _, t := range spreadTargets(n, 1, nodes) {
		per[t]++
	}
	s := make([]string, nodes)
	for i, k := range per {
		s[i] = fmt.Sprint(k)
	}
	return strings.Join(s, ", ")
}

// WriteJSONLines writes every Result as one JSON line.
func (c *ClusterComparison) WriteJSONLines(w io.Writer) error {
	for _, ms := range c.Measurements {
		if ms.Result != nil {
			if err := WriteJSON(w, ms.Result); err != nil {
				return err
			}
		}
	}
	return nil
}

// Panel returns the latency CDF of each deployment, mixing its rounds with
// equal weight.
func (c *ClusterComparison) Panel() Panel {
	w := c.Config.Workload
	p := Panel{Title: fmt.Sprintf("fan-out to %d subscribers at %s: single vs %d-node cluster", w.Clients, rateText(w.Rate), c.Config.Nodes)}
	switch {
	case c.Config.Relay:
		p.Title = fmt.Sprintf("fan-out to %d polling subscribers at %s: direct vs relayed polls", w.Clients, rateText(w.Rate))
	case c.Config.Recovery:
		p.Title = fmt.Sprintf("fan-out to %d subscribers at %s: recovery on vs off, single and %d-node cluster", w.Clients, rateText(w.Rate), c.Config.Nodes)
	}
	for _, d := range c.Config.deployments() {
		var cdfs [][]float64
		for _, ms := range c.Measurements {
			if ms.Deployment == d && ms.Result != nil && len(ms.Result.CDF) > 0 {
				cdfs = append(cdfs, ms.Result.CDF)
			}
		}
		if len(cdfs) > 0 {
			p.Series = append(p.Series, Series{Name: string(d), CDF: mixCDFs(cdfs)})
		}
	}
	return p
}

// WriteFiles writes cluster.md, cluster.jsonl and latency-cluster.png under
// the out directory.
func (c *ClusterComparison) WriteFiles() ([]string, error) {
	out, err := newOutDir(c.Config.OutDir)
	if err != nil {
		return nil, err
	}
	if err := out.write(clusterFileStem+".md", c.WriteMarkdown); err != nil {
		return out.written, err
	}
	if err := out.write(clusterFileStem+".jsonl", c.WriteJSONLines); err != nil {
		return out.written, err
	}
	if p := c.Panel(); len(p.Series) > 0 {
		if err := out.plot("latency-"+clusterFileStem+".png", []Panel{p}); err != nil {
			return out.written, err
		}
	}
	return out.written, nil
}
