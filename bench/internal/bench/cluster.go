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
	// Recovery measures what connection state recovery costs instead:
	// deployments single and cluster each with recovery on (the gateway's
	// default RECOVERY_WINDOW; the cluster's JetStream history) and off
	// (RECOVERY_WINDOW=0).
	Recovery bool
}

// deployments returns the deployments the comparison measures in
// rotation, each round in this order: the baseline and the deployment
// compared with it, or with -recovery each recovery-on deployment followed
// by the same with recovery off.
func (cc ClusterConfig) deployments() []Deployment {
	switch {
	case cc.Relay:
		return []Deployment{DeployDirect, DeployRelayed}
	case cc.Recovery:
		return []Deployment{DeploySingle, DeploySingleNoRecovery, DeployCluster, DeployClusterNoRecovery}
	}
	return []Deployment{DeploySingle, DeployCluster}
}

// Cluster comparison defaults and bounds.
const (
	defaultClusterNodes = 3
	maxClusterNodes     = 9
	defaultP99Target    = 1.3
	// recoveryP99Bar is the most recovery may cost a single gateway's
	// delivery p99: recovery on ÷ off.
	recoveryP99Bar  = 1.1
	clusterFileStem = "cluster"
)

// Deployment is the server side of one cluster-comparison measurement.
type Deployment string

// The deployments the cluster comparison measures.
const (
	DeploySingle  Deployment = "single"  // one gateway, no NATS
	DeployCluster Deployment = "cluster" // Nodes gateways with embedded NATS as a full mesh (JetStream with recovery on)
	// DeploySingleNoRecovery (-recovery) is single with RECOVERY_WINDOW=0.
	DeploySingleNoRecovery Deployment = "single-norecovery"
	// DeployClusterNoRecovery (-recovery) is cluster with
	// RECOVERY_WINDOW=0: no JetStream.
	DeployClusterNoRecovery Deployment = "cluster-norecovery"
	// DeployDirect (-relay) is Nodes clustered gateways, every session on
	// node a and its polling requests sent there.
	DeployDirect Deployment = "direct"
	// DeployRelayed (-relay) is the same, with the polling requests sent
	// to node b, which relays them to node a.
	DeployRelayed Deployment = "relayed"
)

// nodes is how many gateways deployment d runs: one for the single ones,
// cc.Nodes for the others.
func (d Deployment) nodes(cc ClusterConfig) int {
	if d == DeploySingle || d == DeploySingleNoRecovery {
		return 1
	}
	return cc.Nodes
}

// env is the environment deployment d gives each of its gateways beyond
// their own and cluster settings.
func (d Deployment) env() []string {
	if d == DeploySingleNoRecovery || d == DeployClusterNoRecovery {
		return []string{"RECOVERY_WINDOW=0"}
	}
	return nil
}

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
	fs.IntVar(&c.Rounds, "rounds", c.Rounds, "measurements of each deployment (single, cluster, single, …; with -recovery single, single-norecovery, cluster, cluster-norecovery, single, …)")
	fs.IntVar(&w.Clients, "clients", w.Clients, "subscribers in the one room (N)")
	fs.IntVar(&w.Messages, "messages", w.Messages, "messages to publish (M)")
	fs.Float64Var(&w.Rate, "rate", w.Rate, "messages per second (P); 0 publishes as fast as the server accepts (the burst shape: -rate 0 -clients 5000 -messages 1000 -publishers 8)")
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
	fs.BoolVar(&c.Recovery, "recovery", false, "measure what connection state recovery costs instead: single and cluster each with recovery on (the default RECOVERY_WINDOW; the cluster keeps its history in JetStream) and off (RECOVERY_WINDOW=0); reports the p99 ratios on ÷ off (single's bar ≤ "+fmt.Sprint(recoveryP99Bar)+"×)")
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
	if c.Relay && c.Recovery {
		errs = append(errs, errors.New("-relay and -recovery are two different comparisons: give one"))
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

// RunClusterComparison measures cc's workload on each of its deployments
// in rotation (single, cluster, single, …; cc.Rounds each), each
// measurement on freshly started processes that are stopped afterwards. A deployment that fails is recorded and the rest
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
	g, err := StartGateways(ctx, setup, d.nodes(cc), logDir, fmt.Sprintf("%s-%s-%d", clusterFileStem, d, round), d.env())
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
		res.JetStreamNodes, res.StoreReadySeconds = g.JetStream, g.StoreReady.Seconds()
	}
	m.Result = res
	if runErr != nil {
		m.Err = runErr.Error()
	}
	return m
}
