package bench

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
)

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
