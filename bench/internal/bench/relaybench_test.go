package bench

import (
	"io"
	"strings"
	"testing"
)

func TestParseRelayedSumsTheHistogramsOfBothMethods(t *testing.T) {
	text := `# HELP polling_relayed_seconds Polling requests relayed …
# TYPE polling_relayed_seconds histogram
polling_relayed_seconds_bucket{method="GET",le="0.005"} 3
polling_relayed_seconds_sum{method="GET"} 1.5
polling_relayed_seconds_count{method="GET"} 30
polling_relayed_seconds_sum{method="POST"} 0.02
polling_relayed_seconds_count{method="POST"} 10
ws_connections_active{workspace="w0"} 5
`
	var s RelayedStats
	if !parseRelayed(strings.NewReader(text), &s) {
		t.Fatal("nothing found")
	}
	if s.GETs != 30 || s.GETSeconds != 1.5 || s.POSTs != 10 || s.POSTSeconds != 0.02 {
		t.Errorf("parsed %+v", s)
	}
	if parseRelayed(strings.NewReader("ws_rooms_active 1\n"), &s) {
		t.Error("found the histogram in a text without it")
	}
}

func TestParseClusterFlagsRelay(t *testing.T) {
	cc, err := ParseClusterFlags([]string{"-repo", "../../..", "-relay", "-transport", "polling"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !cc.Relay || cc.Nodes != 2 || cc.Workload.Transport != TransportPolling || cc.deployments()[1] != DeployRelayed {
		t.Errorf("relay %v, nodes %d, transport %s, deployments %v", cc.Relay, cc.Nodes, cc.Workload.Transport, cc.deployments())
	}
	if _, err := ParseClusterFlags([]string{"-repo", "../../..", "-relay"}, io.Discard); err == nil || !strings.Contains(err.Error(), "-relay needs -transport polling") {
		t.Errorf("relay over websocket: %v", err)
	}
}

func TestRelayMarkdown(t *testing.T) {
	cc := ClusterConfig{Nodes: 2, Rounds: 1, Relay: true, RepoDir: "../../..", Workload: DefaultConfig(ScenarioFanout, true)}
	cc.Workload.Transport = TransportPolling
	mk := func(d Deployment, p99 float64, posts int64) ClusterMeasurement {
		return ClusterMeasurement{Deployment: d, Round: 1, Result: &Result{Latency: LatencySummary{P99: p99}, Received: 100,
			Transport: TransportPolling, Relayed: &RelayedStats{POSTs: posts, POSTSeconds: float64(posts) / 1000},
			Server: &ServerStats{CPUPublishSecs: 0.01, Nodes: []NodeStats{{CPUPublishSecs: 0.006}, {CPUPublishSecs: 0.004}}}}}
	}
	c := &ClusterComparison{Config: cc, Source: "commit test",
		Measurements: []ClusterMeasurement{mk(DeployDirect, 10, 0), mk(DeployRelayed, 15, 40)}}
	var b strings.Builder
	if err := c.WriteMarkdown(&b); err != nil {
		t.Fatal(err)
	}
	md := b.String()
	for _, want := range []string{"| metric | direct | relayed | relayed/direct |", "| latency p99 (ms) | 10.00 | 15.00 | 1.50× |",
		"| relayed POSTs | 0 | 40 |", "| relayed POST mean (ms) | n/a | 1.000 |", "| server CPU per delivery, all nodes (µs) | 100.00 | 100.00 | 1.00× |",
		"| b | 0.00 | 0.00 |", "HTTP long-polling"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	if r := c.P99Ratio(); r != 1.5 {
		t.Errorf("P99Ratio = %g, want 1.5", r)
	}
}
