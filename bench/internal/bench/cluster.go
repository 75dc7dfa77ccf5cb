package bench

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// ClusterConfig is the cross-node fan-out comparison: the same fan-out
// workload measured alternately on one gateway (single) and on Nodes
// gateways clustered over their embedded NATS servers (cluster), whose
// subscribers are spread evenly over the nodes while every message is
// published on the first, so (Nodes-1)/Nodes of the deliveries cross NATS.
type ClusterConfig struct {
	Nodes     int
	Rounds    int
	Workload  Config // the fan-out workload; its Target and ServerPIDs are set per measurement
	Quick     bool
	P99Target float64 // the cluster/single p99 ratio the cluster should stay within
	RepoDir   string
	OutDir    string
	Build     bool
	// Relay measures what a relayed poll costs instead: deployments direct
	// and relayed, both on Nodes clustered gateways with every subscriber's
	// session on node a; direct sends its polling requests to node a,
	// relayed to node b, which relays them over NATS to a.
	Relay bool
}

// deployments returns the two deployments the comparison alternates, the
// baseline first.
func (cc ClusterConfig) deployments() []Deployment {
	if cc.Relay {
		return []Deployment{DeployDirect, DeployRelayed}
	}
	return []Deployment{DeploySingle, DeployCluster}
}

// Cluster comparison defaults and bounds.
const (
	defaultClusterNodes = 3
	maxClusterNodes     = 9
	defaultP99Target    = 1.3
	clusterFileStem     = "cluster"
)

// Deployment is the server side of one cluster-comparison measurement.
type Deployment string

// The two deployments the cluster comparison alternates.
const (
	DeploySingle  Deployment = "single"  // one gateway, no NATS
	DeployCluster Deployment = "cluster" // Nodes gateways with embedded, routed NATS
	// DeployDirect (-relay) is Nodes clustered gateways, every session on
	// node a and its polling requests sent there.
	DeployDirect Deployment = "direct"
	// DeployRelayed (-relay) is the same, with the polling requests sent
	// to node b, which relays them to node a.
	DeployRelayed Deployment = "relayed"
)

// ParseClusterFlags parses the cluster subcommand's flags: the fan-out
// target sizes (or -quick ones), the node count, rounds and files.
func ParseClusterFlags(args []string, usage io.Writer) (ClusterConfig, error) {
	w := DefaultConfig(ScenarioFanout, false)
	w.Probe = true
	c := ClusterConfig{Nodes: defaultClusterNodes, Rounds: defaultRounds, P99Target: defaultP99Target,
		RepoDir: defaultRepoDir, OutDir: defaultOutDir, Build: true}
	fs := flag.NewFlagSet("gateway-bench cluster", flag.ContinueOnError)
	fs.SetOutput(usage)
	fs.IntVar(&c.Nodes, "nodes", c.Nodes, "gateway nodes in the cluster (the subscribers are spread over all, publishes go to the first)")
	fs.IntVar(&c.Rounds, "rounds", c.Rounds, "measurements of each deployment (single, cluster, single, …)")
	fs.IntVar(&w.Clients, "clients", w.Clients, "subscribers in the one room (N)")
	fs.IntVar(&w.Messages, "messages", w.Messages, "messages to publish (M)")
	fs.Float64Var(&w.Rate, "rate", w.Rate, "messages per second (P); 0 publishes as fast as the server accepts")
	fs.IntVar(&w.PayloadBytes, "payload", w.PayloadBytes, "bytes of data per message")
	fs.IntVar(&w.Concurrency, "concurrency", w.Concurrency, "connection attempts in flight during the ramp")
	fs.IntVar(&w.Publishers, "publishers", w.Publishers, "publish requests in flight")
	fs.BoolVar(&c.Quick, "quick", false, "the quick fan-out sizes (a smoke comparison; flags given explicitly still win)")
	fs.Float64Var(&c.P99Target, "p99-target", c.P99Target, "the cluster/single p99 ratio to meet")
	fs.DurationVar(&w.Timeout, "timeout", w.Timeout, "hard limit of one measurement's load run")
	fs.StringVar(&c.RepoDir, "repo", c.RepoDir, "repository root: the directory of the go.mod of "+gatewayModulePath+" (the tool runs from bench/)")
	fs.StringVar(&c.OutDir, "out", c.OutDir, "directory for "+clusterFileStem+".md, "+clusterFileStem+".jsonl, latency-"+clusterFileStem+".png, logs and binaries")
	fs.BoolVar(&c.Build, "build", c.Build, "build the gateway binary first")
	fs.BoolVar(&w.Progress, "progress", w.Progress, "progress bars on stderr")
	fs.Var((*transportFlag)(&w.Transport), "transport", "how the subscribers connect: websocket, polling or default")
	fs.BoolVar(&c.Relay, "relay", false, "measure relayed polls instead: every session on node a, polling requests sent to node a (direct) or node b (relayed, over NATS); needs -transport polling or default, 2 nodes unless -nodes says otherwise")
	if err := fs.Parse(args); err != nil {
		return ClusterConfig{}, err
	}
	nodesSet := false
	fs.Visit(func(f *flag.Flag) { nodesSet = nodesSet || f.Name == "nodes" })
	if c.Relay && !nodesSet {
		c.Nodes = 2
	}
	var errs []error
	if fs.NArg() > 0 {
		errs = append(errs, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " ")))
	}
	if c.Quick {
		applyQuick(&w, fs)
	}
	w.Format = "json"
	if c.Nodes < 2 || c.Nodes > maxClusterNodes {
		errs = append(errs, fmt.Errorf("-nodes must be between 2 and %d (got %d)", maxClusterNodes, c.Nodes))
	}
	if c.Rounds < 1 || c.Rounds > maxRounds {
		errs = append(errs, fmt.Errorf("-rounds must be between 1 and %d (got %d)", maxRounds, c.Rounds))
	}
	if c.P99Target <= 0 || math.IsInf(c.P99Target, 0) || math.IsNaN(c.P99Target) {
		errs = append(errs, fmt.Errorf("-p99-target must be a positive ratio (got %g)", c.P99Target))
	}
	if c.Relay && !w.Transport.polls() {
		errs = append(errs, fmt.Errorf("-relay needs -transport polling or default (got %s)", w.Transport))
	}
	if c.Nodes >= 2 && w.Clients < c.Nodes && !c.Relay {
		errs = append(errs, fmt.Errorf("-clients must be at least -nodes (%d) so every node has a subscriber (got %d)", c.Nodes, w.Clients))
	}
	if err := w.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := checkRepoDir(c.RepoDir); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return ClusterConfig{}, err
	}
	c.Workload = w
	return c, nil
}

// ClusterMeasurement is one run of the workload on one deployment.
type ClusterMeasurement struct {
	Deployment Deployment
	Round      int
	Result     *Result // nil when the run could not be made
	Err        string  // why the run failed or was cut short
}

// ClusterComparison is every measurement of a cluster comparison.
type ClusterComparison struct {
	Config       ClusterConfig
	Started      time.Time
	Source       string // the gateway's commit when the run started (sourceText); empty: read when writing
	Measurements []ClusterMeasurement
}

// RunClusterComparison measures cc's workload alternately on a single
// gateway and on a cluster of cc.Nodes gateways (single, cluster, single,
// …; cc.Rounds each), each measurement on freshly started processes that
// are stopped afterwards. A deployment that fails is recorded and the rest
// go on. A one-line summary of each measurement goes to log.
func RunClusterComparison(ctx context.Context, cc ClusterConfig, log io.Writer) (*ClusterComparison, error) {
	limit, err := RaiseFileLimit()
	if err != nil {
		return nil, err
	}
	if err := checkFileLimit(cc.Workload.Clients*cc.Workload.Transport.socketsPerClient(), limit); err != nil {
		return nil, err
	}
	setup := PeerSetup{RepoDir: cc.RepoDir, BinDir: filepath.Join(cc.OutDir, "bin"),
		JWTSecret: cc.Workload.JWTSecret, PublishKey: cc.Workload.PublishKey, AdminKey: cc.Workload.AdminKey}
	if cc.Build {
		if err := BuildPeers(ctx, setup, []PeerKind{PeerGateway}, log); err != nil {
			return nil, err
		}
	}
	// Read now, next to the build: the tree may move on during the run.
	cmp := &ClusterComparison{Config: cc, Started: time.Now(), Source: sourceText(cc.RepoDir)}
	if !cc.Build {
		cmp.Source += " (binary not rebuilt: -build=false)"
	}
	for round := 1; round <= cc.Rounds; round++ {
		for _, d := range cc.deployments() {
			if ctx.Err() != nil {
				return cmp, ctx.Err()
			}
			m := measureDeployment(ctx, setup, cc, d, round)
			cmp.Measurements = append(cmp.Measurements, m)
			fmt.Fprintln(log, m.summary())
		}
	}
	return cmp, nil
}

// measureDeployment starts deployment d, runs the workload against it and
// stops it.
func measureDeployment(ctx context.Context, setup PeerSetup, cc ClusterConfig, d Deployment, round int) ClusterMeasurement {
	m := ClusterMeasurement{Deployment: d, Round: round}
	logDir := filepath.Join(cc.OutDir, "logs")
	nodes := 1
	if d != DeploySingle {
		nodes = cc.Nodes
	}
	g, err := StartGateways(ctx, setup, nodes, logDir, fmt.Sprintf("%s-%s-%d", clusterFileStem, d, round))
	if err != nil {
		m.Err = err.Error()
		return m
	}
	sleepCtx(ctx, peerSettle)
	cfg := cc.Workload
	cfg.Target, cfg.ServerPIDs = strings.Join(g.URLs(), ","), g.PIDs()
	switch d {
	case DeployDirect:
		cfg.Target = g.URLs()[0]
	case DeployRelayed:
		cfg.Target, cfg.PollTarget = g.URLs()[0], g.URLs()[1]
	}
	res, runErr := Run(ctx, cfg, os.Stderr)
	if res != nil && cfg.Transport.polls() {
		res.Relayed = scrapeRelayed(ctx, g.URLs())
	}
	if stopErr := g.Stop(); stopErr != nil && runErr == nil {
		runErr = stopErr
	}
	if res != nil {
		res.Peer, res.Round = string(d), round
	}
	m.Result = res
	if runErr != nil {
		m.Err = runErr.Error()
	}
	return m
}

// Gateways is one or more gateway processes started for a measurement;
// several are clustered over their embedded NATS servers.
type Gateways struct {
	Nodes []*Peer // node 1 first: the one publishes go to
}

// StartGateways starts n gateway processes on free loopback ports. With
// n > 1 each runs an embedded NATS server (NATS_LISTEN and
// NATS_CLUSTER_LISTEN on 127.0.0.1:0) routed to the route URLs of the
// nodes started before it, with NODE_ID a, b, c, …; with n == 1 it is a
// plain single-node gateway. Logs go to logDir/stem[-node-ID].log. When a
// node fails to start, the ones already running are stopped.
func StartGateways(ctx context.Context, setup PeerSetup, n int, logDir, stem string) (*Gateways, error) {
	if n < 1 || n > maxClusterNodes {
		return nil, fmt.Errorf("bench: %d gateway nodes: want 1 to %d", n, maxClusterNodes)
	}
	g := &Gateways{}
	if n == 1 {
		p, err := StartPeer(ctx, setup, PeerGateway, filepath.Join(logDir, stem+".log"), false)
		if err != nil {
			return nil, err
		}
		g.Nodes = []*Peer{p}
		return g, nil
	}
	var routes []string
	for i := range n {
		id := nodeID(i)
		env := clusterNodeEnv(id, routes)
		p, err := startPeer(ctx, setup, PeerGateway, filepath.Join(logDir, stem+"-node-"+id+".log"), false, env)
		if err == nil && p.Route == "" {
			_ = p.Stop()
			err = fmt.Errorf("bench: gateway node %s logged no nats_route_url before listening; see %s", id, filepath.Join(logDir, stem+"-node-"+id+".log"))
		}
		if err != nil {
			_ = g.Stop()
			return nil, err
		}
		g.Nodes = append(g.Nodes, p)
		routes = append(routes, p.Route)
	}
	return g, nil
}

// nodeID names cluster node i: a, b, c, …
func nodeID(i int) string { return string(rune('a' + i)) }

// clusterNodeEnv is the environment that makes a gateway cluster node id,
// routed to the embedded NATS servers at routes (none for the first node).
func clusterNodeEnv(id string, routes []string) []string {
	return []string{"NODE_ID=" + id, "NATS_LISTEN=127.0.0.1:0", "NATS_CLUSTER_LISTEN=127.0.0.1:0",
		"NATS_ROUTES=" + strings.Join(routes, ",")}
}

// URLs returns the nodes' base URLs, node 1 first.
func (g *Gateways) URLs() []string {
	out := make([]string, len(g.Nodes))
	for i, p := range g.Nodes {
		out[i] = p.URL()
	}
	return out
}

// PIDs returns the nodes' process ids, node 1 first.
func (g *Gateways) PIDs() []int {
	out := make([]int, len(g.Nodes))
	for i, p := range g.Nodes {
		out[i] = p.PID
	}
	return out
}

// Stop stops every node at once (SIGTERM, then SIGKILL after
// peerStopTimeout each) and returns their errors joined.
func (g *Gateways) Stop() error {
	errs := make([]error, len(g.Nodes))
	var wg sync.WaitGroup
	for i, p := range g.Nodes {
		wg.Go(func() { errs[i] = p.Stop() })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// summary is the one line a measurement leaves on the log.
func (m ClusterMeasurement) summary() string {
	cm := Measurement{Scenario: ScenarioFanout, Peer: PeerKind(m.Deployment), Round: m.Round, Result: m.Result, Err: m.Err}
	s := cm.summary()
	if r := m.Result; r != nil && (r.ConvergeProbes > 0 || r.PublishPartial > 0) {
		s += fmt.Sprintf(" [converged in %.2fs, %d partial answers]", r.ConvergeSeconds, r.PublishPartial)
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
		{"server CPU whole run, all nodes (s)", "%.2f", server(func(s *ServerStats) float64 { return s.CPUSeconds })},
		{"server RSS connected, all nodes (MB)", "%.1f", server(func(s *ServerStats) float64 { return s.RSSConnectedMB })},
		{"server peak RSS, all nodes (MB)", "%.1f", server(func(s *ServerStats) float64 { return s.PeakRSSMB })},
		pick("connect+join all (s)"),
		otherCPU,
	}
}

// P99Ratio is the median cluster p99 over the median single-node p99 (with
// -relay: relayed over direct; NaN when either has no measurement).
func (c *ClusterComparison) P99Ratio() float64 {
	p99 := always(func(r *Result) float64 { return r.Latency.P99 })
	deps := c.Config.deployments()
	single := Median(c.values(deps[0], metric{get: p99}))
	cluster := Median(c.values(deps[1], metric{get: p99}))
	if math.IsNaN(single) || math.IsNaN(cluster) || single == 0 {
		return math.NaN()
	}
	return cluster / single
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
	var b strings.Builder
	fmt.Fprintf(&b, "## Cross-node fan-out: %d clustered gateways vs one (%s)\n\n", cc.Nodes, c.Started.UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&b, "Machine: %s. Medians of %d rounds, measured alternately (single, cluster, single, …), each on freshly started processes.\n",
		machineText(), cc.Rounds)
	source := c.Source
	if source == "" {
		source = sourceText(cc.RepoDir)
	}
	fmt.Fprintf(&b, "Gateway source: %s.\n\n", source)
	fmt.Fprintf(&b, "Workload: %s. **single**: one gateway (no NATS). **cluster**: %d gateways, each with an embedded NATS server routed to the others; "+
		"the subscribers are spread round-robin over the nodes (%s), every message is published on node 1, so %d/%d of the deliveries cross NATS. "+
		"Before publishing, both wait until a probe publish counts every subscriber.\n\n",
		workloadText(cc.Workload), cc.Nodes, spreadText(cc.Workload.Clients, cc.Nodes), cc.Nodes-1, cc.Nodes)

	ratio := c.P99Ratio()
	verdict := "not measured"
	if !math.IsNaN(ratio) {
		verdict = "met"
		if ratio > cc.P99Target {
			verdict = "**missed**"
		}
	}
	fmt.Fprintf(&b, "**Delivery latency p99, cluster ÷ single: %s (target ≤ %.2g×: %s).**\n\n", ratioText(ratio, 1), cc.P99Target, verdict)

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

	p99 := metricsFor(ScenarioFanout)[2]
	var parts []string
	for _, d := range deps {
		var vs []string
		for _, v := range c.values(d, p99) {
			vs = append(vs, numText(p99.format, v))
		}
		parts = append(parts, fmt.Sprintf("%s %s", d, strings.Join(vs, ", ")))
	}
	fmt.Fprintf(&b, "%s per round: %s.\n", p99.name, strings.Join(parts, "; "))
	parts = parts[:0]
	for _, d := range deps {
		var vs []string
		for _, v := range c.values(d, otherCPU) {
			vs = append(vs, numText(otherCPU.format, v))
		}
		parts = append(parts, fmt.Sprintf("%s %s", d, strings.Join(vs, ", ")))
	}
	fmt.Fprintf(&b, "%s per round: %s.\n\n", otherCPU.name, strings.Join(parts, "; "))
	c.writeNodes(&b)

	c.writeRoundErrors(&b)
	_, err := io.WriteString(w, b.String())
	return err
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

// writeNodes shows each cluster node's share (medians over the rounds):
// its subscribers' delivery latency, and its part of the summed server
// figures.
func (c *ClusterComparison) writeNodes(b *strings.Builder) {
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
				if ms.Deployment == DeployCluster && ms.Result != nil {
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
		b.WriteString("Per cluster node (medians):\n\n" + table.String() + "\n")
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
	if c.Config.Relay {
		p.Title = fmt.Sprintf("fan-out to %d polling subscribers at %s: direct vs relayed polls", w.Clients, rateText(w.Rate))
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
