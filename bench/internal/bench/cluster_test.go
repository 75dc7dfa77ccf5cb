package bench

import (
	"context"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseClusterFlagsDefaultsAreTheFanoutTargets(t *testing.T) {
	c, err := ParseClusterFlags([]string{"-repo", "../../.."}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	w := c.Workload
	if c.Nodes != 3 || c.Rounds != 3 || c.P99Target != 1.3 || w.Scenario != ScenarioFanout || w.Clients != 1000 || w.Rooms != 1 ||
		w.Messages != 500 || w.Rate != 50 || w.PayloadBytes != 200 || !w.Probe || w.Format != "json" || c.OutDir != "out" || !c.Build {
		t.Errorf("got %+v", c)
	}
	q, err := ParseClusterFlags([]string{"-repo", "../../..", "-quick", "-messages", "30", "-nodes", "2", "-rounds", "1", "-progress=false"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if q.Nodes != 2 || q.Rounds != 1 || q.Workload.Clients != quickClients || q.Workload.Messages != 30 || q.Workload.Progress {
		t.Errorf("-quick: got %+v", q)
	}
}

func TestParseClusterFlagsRejectsBadValues(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-repo", "../../..", "-nodes", "1"}, "-nodes must be between 2 and 9 (got 1)"},
		{[]string{"-repo", "../../..", "-nodes", "10"}, "-nodes must be between 2 and 9"},
		{[]string{"-repo", "../../..", "-clients", "2"}, "-clients must be at least -nodes (3)"},
		{[]string{"-repo", "../../..", "-rounds", "0"}, "-rounds must be between 1"},
		{[]string{"-repo", "../../..", "-p99-target", "0"}, "-p99-target must be a positive ratio"},
		{[]string{"-repo", "../../..", "-payload", "1"}, "-payload must be between 64"},
		{[]string{"-repo", "/nonexistent"}, "no go.mod of github.com/hyvve/gateway there"},
		{[]string{"-repo", "../.."}, "no go.mod of github.com/hyvve/gateway there"},
		{[]string{"-repo", "../../..", "extra"}, "unexpected arguments: extra"},
		{[]string{"-repo", "../../..", "-recovery", "-relay", "-transport", "polling"}, "-relay and -recovery are two different comparisons"},
	} {
		_, err := ParseClusterFlags(tc.args, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: got %v, want %q", tc.args, err, tc.want)
		}
	}
}

func TestClusterDeployments(t *testing.T) {
	off := []string{"RECOVERY_WINDOW=0"}
	type dep struct {
		d     Deployment
		nodes int
		env   []string
	}
	for _, tc := range []struct {
		args []string
		want []dep
	}{
		{nil, []dep{{DeploySingle, 1, nil}, {DeployCluster, 3, nil}}},
		{[]string{"-nodes", "4"}, []dep{{DeploySingle, 1, nil}, {DeployCluster, 4, nil}}},
		{[]string{"-recovery"}, []dep{{DeploySingle, 1, nil}, {DeploySingleNoRecovery, 1, off}, {DeployCluster, 3, nil}, {DeployClusterNoRecovery, 3, off}}},
		{[]string{"-recovery", "-nodes", "2", "-quick"}, []dep{{DeploySingle, 1, nil}, {DeploySingleNoRecovery, 1, off}, {DeployCluster, 2, nil}, {DeployClusterNoRecovery, 2, off}}},
		{[]string{"-relay", "-transport", "polling"}, []dep{{DeployDirect, 2, nil}, {DeployRelayed, 2, nil}}},
	} {
		cc, err := ParseClusterFlags(append([]string{"-repo", "../../.."}, tc.args...), io.Discard)
		if err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		var got []dep
		for _, d := range cc.deployments() {
			got = append(got, dep{d, d.nodes(cc), d.env()})
		}
		if !slices.EqualFunc(got, tc.want, func(a, b dep) bool { return a.d == b.d && a.nodes == b.nodes && slices.Equal(a.env, b.env) }) {
			t.Errorf("%v: deployments %v, want %v", tc.args, got, tc.want)
		}
		if cc.Recovery != slices.Contains(tc.args, "-recovery") {
			t.Errorf("%v: Recovery = %v", tc.args, cc.Recovery)
		}
	}
}

func TestMeshNodeEnvListsEveryRouteOnEveryNode(t *testing.T) {
	routes := []string{"nats-route://127.0.0.1:7001", "nats-route://127.0.0.1:7002", "nats-route://127.0.0.1:7003"}
	all := "NATS_ROUTES=nats-route://127.0.0.1:7001,nats-route://127.0.0.1:7002,nats-route://127.0.0.1:7003"
	for _, tc := range []struct {
		i    int
		want []string
	}{
		{0, []string{"NODE_ID=a", "NATS_LISTEN=127.0.0.1:0", "NATS_CLUSTER_LISTEN=127.0.0.1:7001", all}},
		{1, []string{"NODE_ID=b", "NATS_LISTEN=127.0.0.1:0", "NATS_CLUSTER_LISTEN=127.0.0.1:7002", all}},
		{2, []string{"NODE_ID=c", "NATS_LISTEN=127.0.0.1:0", "NATS_CLUSTER_LISTEN=127.0.0.1:7003", all}},
	} {
		if got := meshNodeEnv(tc.i, routes); !slices.Equal(got, tc.want) {
			t.Errorf("node %d: got %q, want %q", tc.i, got, tc.want)
		}
	}
	// The cluster ports are picked before any node starts: distinct, and
	// each node listens on its own.
	got, err := freeRoutes(3)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || len(slices.Compact(slices.Sorted(slices.Values(got)))) != 3 {
		t.Errorf("freeRoutes(3) = %q: want 3 distinct routes", got)
	}
	for i, r := range got {
		if !strings.HasPrefix(r, "nats-route://127.0.0.1:") || !slices.Contains(meshNodeEnv(i, got), "NATS_CLUSTER_LISTEN="+strings.TrimPrefix(r, "nats-route://")) {
			t.Errorf("route %d %q: env %q", i, r, meshNodeEnv(i, got))
		}
	}
	// The caller's shell cannot cluster (or uncluster) a measured gateway,
	// nor turn its recovery off.
	for _, name := range []string{"NATS_URL", "NATS_LISTEN", "NATS_CLUSTER_LISTEN", "NATS_ROUTES", "NODE_ID", "RECOVERY_WINDOW"} {
		if !slices.Contains(gatewayEnvNames(), name) {
			t.Errorf("%s is not filtered from the inherited environment", name)
		}
	}
}

func TestWaitStoresWaitsOnlyForNodesThatStartedJetStream(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ready := write("a.log", "Starting JetStream\n"+storeReadyLine+"\n")
	plain := write("b.log", "listening\n")
	stuck := write("c.log", "Starting JetStream\n")
	for _, tc := range []struct {
		name    string
		logs    []string
		wantJS  int
		wantErr int
	}{
		{"no JetStream (recovery off)", []string{plain, plain}, 0, 0},
		{"every store ready", []string{ready, ready}, 2, 0},
		{"one store never ready", []string{ready, stuck}, 2, 1},
	} {
		js, took, errs := waitStores(context.Background(), tc.logs, 100*time.Millisecond)
		if js != tc.wantJS || len(errs) != tc.wantErr || (js == 0) != (took == 0) {
			t.Errorf("%s: got %d nodes, %s, errors %q", tc.name, js, took, errs)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	if _, _, errs := waitStores(ctx, []string{stuck}, time.Minute); len(errs) != 1 || time.Since(start) > 5*time.Second {
		t.Errorf("cancelled: errors %q after %s", errs, time.Since(start))
	}
}

func TestCopyUntilListeningReadsTheRouteURL(t *testing.T) {
	lines := `{"msg":"cluster: embedded NATS server started"}
{"msg":"cluster enabled","nats_client_url":"nats://127.0.0.1:4222","nats_route_url":"nats-route://127.0.0.1:6222"}
{"msg":"gateway listening","addr":"127.0.0.1:8080"}
{"msg":"later"}
`
	ready := make(chan listening, 1)
	var log strings.Builder
	copyUntilListening(strings.NewReader(lines), &log, ready)
	if l := <-ready; l.addr != "127.0.0.1:8080" || l.route != "nats-route://127.0.0.1:6222" {
		t.Errorf("got %+v", l)
	}
	if log.String() != lines {
		t.Errorf("log %q", log.String())
	}
}

func TestStartGatewaysBounds(t *testing.T) {
	for _, n := range []int{0, maxClusterNodes + 1} {
		if _, err := StartGateways(context.Background(), PeerSetup{}, n, t.TempDir(), "x", nil); err == nil {
			t.Errorf("%d nodes: no error", n)
		}
	}
}

func fakeClusterComparison(t *testing.T, clusterP99 float64) *ClusterComparison {
	dir := t.TempDir()
	res := func(d Deployment, p99 float64, nodes int) *Result {
		r := &Result{Scenario: ScenarioFanout, Peer: string(d), Latency: LatencySummary{P50: 1, P99: p99}, Expected: 1000, ServerRecipients: 1000,
			Server: &ServerStats{CPUPublishSecs: float64(nodes), RSSConnectedMB: 10 * float64(nodes), OtherCPUSeconds: new(0.25 * p99)}, CDF: []float64{0.5, 1, p99}}
		for i := range nodes {
			if nodes > 1 {
				r.Server.Nodes = append(r.Server.Nodes, NodeStats{PID: 100 + i, CPUPublishSecs: float64(i + 1), RSSConnectedMB: 10})
				r.PerTarget = append(r.PerTarget, TargetStats{Clients: 333, Latency: LatencySummary{P99: p99 - float64(2-i)}})
			}
		}
		return r
	}
	w := DefaultConfig(ScenarioFanout, false)
	return &ClusterComparison{
		Config: ClusterConfig{Nodes: 3, Rounds: 2, Workload: w, P99Target: 1.3, OutDir: dir, RepoDir: "../../.."},
		Measurements: []ClusterMeasurement{
			{Deployment: DeploySingle, Round: 1, Result: res(DeploySingle, 4, 1)},
			{Deployment: DeployCluster, Round: 1, Result: res(DeployCluster, clusterP99, 3)},
			{Deployment: DeploySingle, Round: 2, Result: res(DeploySingle, 6, 1)},
			{Deployment: DeployCluster, Round: 2, Err: "bench: gateway did not say it was listening"},
		},
	}
}

func TestClusterMarkdown(t *testing.T) {
	c := fakeClusterComparison(t, 6)
	if c.Failed() != 1 {
		t.Errorf("Failed() = %d, want 1", c.Failed())
	}
	if r := c.P99Ratio(); math.Abs(r-1.2) > 1e-9 {
		t.Errorf("P99Ratio = %g, want 6 / median(4, 6) = 1.2", r)
	}
	var b strings.Builder
	if err := c.WriteMarkdown(&b); err != nil {
		t.Fatal(err)
	}
	md := b.String()
	for _, want := range []string{
		"## Cross-node fan-out: 3 clustered gateways vs one",
		"spread round-robin over the nodes (334, 333, 333)",
		"2/3 of the deliveries cross NATS",
		"**Delivery latency p99, cluster ÷ single: 1.20× (target ≤ 1.3×: met).**",
		"| metric | single node | 3-node cluster | cluster/single |",
		"| runs ok | 2/2 | 1/2 | |",
		"| latency p99 (ms) | 5.00 | 6.00 | 1.20× |",
		"| server CPU while publishing, all nodes (s) | 1.00 | 3.00 | 3.00× |",
		"| server recipients ÷ expected deliveries | 1.0000 | 1.0000 | 1.00× |",
		"latency p99 (ms) per round: single 4.00, 6.00; cluster 6.00.",
		"| CPU of other processes during the run (s) | 1.25 | 1.50 | 1.20× |",
		"CPU of other processes during the run (s) per round: single 1.00, 1.50; cluster 1.50.",
		"| cluster node | a (334 subscribers, publishes) | b (333 subscribers) | c (333 subscribers) |",
		"| CPU while publishing (s) | 1.00 | 2.00 | 3.00 |",
		"| its subscribers' latency p99 (ms) | 4.00 | 5.00 | 6.00 |",
		"- cluster round 2: `bench: gateway did not say it was listening`",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	b.Reset()
	_ = fakeClusterComparison(t, 7).WriteMarkdown(&b)
	if !strings.Contains(b.String(), "1.40× (target ≤ 1.3×: **missed**)") {
		t.Errorf("a missed target must say so:\n%s", b.String())
	}
}

func TestClusterWriteFiles(t *testing.T) {
	c := fakeClusterComparison(t, 6)
	files, err := c.WriteFiles()
	if err != nil {
		t.Fatal(err)
	}
	dir := c.Config.OutDir
	want := []string{filepath.Join(dir, "cluster.md"), filepath.Join(dir, "cluster.jsonl"), filepath.Join(dir, "latency-cluster.png")}
	if !slices.Equal(files, want) {
		t.Errorf("wrote %q, want %q", files, want)
	}
	jl, _ := os.ReadFile(want[1])
	if n := strings.Count(string(jl), "\n"); n != 3 || !strings.Contains(string(jl), `"nodes":[{"pid":100`) {
		t.Errorf("cluster.jsonl has %d lines:\n%s", n, jl)
	}
}

func TestClusterSummaryLine(t *testing.T) {
	m := ClusterMeasurement{Deployment: DeployCluster, Round: 2, Result: &Result{Scenario: ScenarioFanout, Received: 10, Expected: 10,
		ConvergeSeconds: 0.25, ConvergeProbes: 3, PublishPartial: 1, Latency: LatencySummary{P99: 2}}}
	if s := m.summary(); !strings.Contains(s, "cluster") || !strings.Contains(s, "round 2") || !strings.Contains(s, "converged in 0.25s, 1 partial answers") {
		t.Errorf("summary %q", s)
	}
}

// fakeRecoveryComparison is a -recovery comparison of two rounds: single
// p99 4 and 6 with recovery on, 5 off; cluster clusterOn on, 5 off
// (round 2 of cluster-norecovery failed).
func fakeRecoveryComparison(t *testing.T, singleOn2, clusterOn float64) *ClusterComparison {
	res := func(d Deployment, p99 float64, nodes, js int) *Result {
		r := &Result{Scenario: ScenarioFanout, Peer: string(d), Latency: LatencySummary{P50: p99 / 2, P99: p99}, Expected: 1000, Received: 1000,
			ServerRecipients: 1000, DeliveriesPerSec: 100 * p99, PublishRate: 50, JetStreamNodes: js, CDF: []float64{0.5, 1, p99},
			Server: &ServerStats{CPUPublishSecs: p99 / 1000, OtherCPUSeconds: new(0.5)}}
		if js > 0 {
			r.StoreReadySeconds = 1.5
		}
		for i := range nodes {
			if nodes > 1 {
				r.Server.Nodes = append(r.Server.Nodes, NodeStats{PID: 100 + i, CPUPublishSecs: float64(i + 1)})
				r.PerTarget = append(r.PerTarget, TargetStats{Clients: 100, Latency: LatencySummary{P99: p99}})
			}
		}
		return r
	}
	w := DefaultConfig(ScenarioFanout, false)
	return &ClusterComparison{
		Config: ClusterConfig{Nodes: 2, Rounds: 2, Workload: w, P99Target: 1.3, Recovery: true, OutDir: t.TempDir(), RepoDir: "../../.."},
		Measurements: []ClusterMeasurement{
			{Deployment: DeploySingle, Round: 1, Result: res(DeploySingle, 4, 1, 0)},
			{Deployment: DeploySingleNoRecovery, Round: 1, Result: res(DeploySingleNoRecovery, 5, 1, 0)},
			{Deployment: DeployCluster, Round: 1, Result: res(DeployCluster, clusterOn, 2, 2)},
			{Deployment: DeployClusterNoRecovery, Round: 1, Result: res(DeployClusterNoRecovery, 5, 2, 0)},
			{Deployment: DeploySingle, Round: 2, Result: res(DeploySingle, singleOn2, 1, 0)},
			{Deployment: DeploySingleNoRecovery, Round: 2, Result: res(DeploySingleNoRecovery, 5, 1, 0)},
			{Deployment: DeployCluster, Round: 2, Result: res(DeployCluster, clusterOn, 2, 2)},
			{Deployment: DeployClusterNoRecovery, Round: 2, Err: "bench: no \"JetStream recovery store ready\" within 30s"},
		},
	}
}

func TestRecoveryRatios(t *testing.T) {
	for _, tc := range []struct {
		name                      string
		singleOn2, clusterOn      float64
		wantSingle, wantCluster   float64
		wantSingleVerdict, wantRt string
	}{
		{"within the bar", 6, 8, 1, 1.6, "met", "1.00×"},
		{"over the bar", 8, 5, 1.2, 1, "**missed**", "1.20×"},
	} {
		c := fakeRecoveryComparison(t, tc.singleOn2, tc.clusterOn)
		single, cluster := c.RecoveryRatios()
		if math.Abs(single-tc.wantSingle) > 1e-9 || math.Abs(cluster-tc.wantCluster) > 1e-9 {
			t.Errorf("%s: ratios %g, %g; want %g, %g", tc.name, single, cluster, tc.wantSingle, tc.wantCluster)
		}
		if v := verdictText(single, recoveryP99Bar); v != tc.wantSingleVerdict {
			t.Errorf("%s: verdict %q, want %q", tc.name, v, tc.wantSingleVerdict)
		}
		var b strings.Builder
		if err := c.WriteMarkdown(&b); err != nil {
			t.Fatal(err)
		}
		if want := "single recovery on ÷ off: " + tc.wantRt + " (bar ≤ 1.1×: " + tc.wantSingleVerdict + ")"; !strings.Contains(b.String(), want) {
			t.Errorf("%s: markdown lacks %q:\n%s", tc.name, want, b.String())
		}
	}
	// A deployment without a measurement has no ratio.
	c := fakeRecoveryComparison(t, 6, 8)
	c.Measurements = c.Measurements[:2]
	if _, cluster := c.RecoveryRatios(); !math.IsNaN(cluster) || verdictText(cluster, 1.1) != "not measured" {
		t.Errorf("no cluster measurement: ratio %g", cluster)
	}
}

func TestRecoveryMarkdown(t *testing.T) {
	c := fakeRecoveryComparison(t, 6, 8)
	var b strings.Builder
	if err := c.WriteMarkdown(&b); err != nil {
		t.Fatal(err)
	}
	md := b.String()
	for _, want := range []string{
		"## Connection state recovery on vs off: one gateway and 2 clustered",
		"(single, single-norecovery, cluster, cluster-norecovery, single, …)",
		"**single-norecovery**: the same with RECOVERY_WINDOW=0",
		"1/2 of the deliveries cross NATS",
		"**Delivery latency p99, single recovery on ÷ off: 1.00× (bar ≤ 1.1×: met).**",
		"**Delivery latency p99, cluster recovery on ÷ off: 1.60×.**",
		"cluster ÷ single, both with recovery on: 1.60× (target ≤ 1.3×: **missed**)",
		"| metric | single | single-norecovery | cluster | cluster-norecovery | single on/off | cluster on/off |",
		"|---|---:|---:|---:|---:|---:|---:|",
		"| runs ok | 2/2 | 2/2 | 2/2 | 1/2 | | |",
		"| latency p50 (ms) | 2.50 | 2.50 | 4.00 | 2.50 | 1.00× | 1.60× |",
		"| latency p99 (ms) | 5.00 | 5.00 | 8.00 | 5.00 | 1.00× | 1.60× |",
		"| loss (%) | 0.000 | 0.000 | 0.000 | 0.000 | — | — |",
		"| deliveries/s | 500 | 500 | 800 | 500 | 1.00× | 1.60× |",
		"| publishes accepted/s | 50 | 50 | 50 | 50 | 1.00× | 1.00× |",
		"| server CPU per delivery (µs) | 5.00 | 5.00 | 8.00 | 5.00 | 1.00× | 1.60× |",
		"| nodes running JetStream (recovery store) | 0 | 0 | 2 | 0 | — | — |",
		"| wait for the recovery stores (s) | n/a | n/a | 1.50 | n/a | — | — |",
		"latency p99 (ms) per round: single 4.00, 6.00; single-norecovery 5.00, 5.00; cluster 8.00, 8.00; cluster-norecovery 5.00.",
		"Per cluster node, recovery on (medians):",
		"Per cluster node, recovery off (medians):",
		"| cluster node | a (500 subscribers, publishes) | b (500 subscribers) |",
		"- cluster-norecovery round 2: `bench: no \"JetStream recovery store ready\" within 30s`",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	if p := c.Panel(); len(p.Series) != 4 || !strings.Contains(p.Title, "recovery on vs off") {
		t.Errorf("panel %q with %d series", p.Title, len(p.Series))
	}
	// Without -recovery the same measurements read as single vs cluster.
	c.Config.Recovery = false
	b.Reset()
	_ = c.WriteMarkdown(&b)
	if md := b.String(); !strings.Contains(md, "| metric | single node | 2-node cluster | cluster/single |") || strings.Contains(md, "on ÷ off") {
		t.Errorf("without -recovery:\n%s", md)
	}
}

func TestClusterSummaryLineShowsJetStream(t *testing.T) {
	for _, tc := range []struct {
		js   int
		want string
	}{
		{0, ""},
		{3, " [JetStream on 3 nodes, stores ready after 1.25s]"},
	} {
		m := ClusterMeasurement{Deployment: DeployCluster, Round: 1, Result: &Result{Scenario: ScenarioFanout, JetStreamNodes: tc.js, StoreReadySeconds: 1.25}}
		s := m.summary()
		if has := strings.Contains(s, "JetStream"); has != (tc.want != "") || !strings.Contains(s, tc.want) {
			t.Errorf("%d JetStream nodes: summary %q", tc.js, s)
		}
	}
}
