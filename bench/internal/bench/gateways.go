package bench

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Gateways is one or more gateway processes started for a measurement;
// several are clustered over their embedded NATS servers.
type Gateways struct {
	Nodes []*Peer // node 1 first: the one publishes go to
	// JetStream counts the nodes that started JetStream (and whose
	// recovery store was ready before StartGateways returned); 0 for a
	// single node or with recovery off (RECOVERY_WINDOW=0).
	JetStream int
	// StoreReady is how long the wait for the recovery stores took after
	// the last node was listening (0 when no node started JetStream).
	StoreReady time.Duration
}

// storeReadyTimeout bounds the wait for the nodes' JetStream recovery
// stores (a clustered JetStream elects its meta leader first).
const storeReadyTimeout = 30 * time.Second

// StartGateways starts n gateway processes on free loopback ports, each
// given env after its own settings (e.g. RECOVERY_WINDOW=0). With n > 1
// they form a full mesh, as a deployment does: the cluster ports are
// chosen first, and every node, NODE_ID a, b, c, …, runs an embedded NATS
// server on its own port routed to every node's, its own included
// (meshNodeEnv) — the shape in which the gateway runs JetStream for
// cross-node recovery. It then waits until each node that started
// JetStream says its recovery store is ready. With n == 1 it is a plain
// single-node gateway. Logs go to logDir/stem[-node-ID].log. When a node
// fails to start or its store is not ready in time, every node is stopped.
func StartGateways(ctx context.Context, setup PeerSetup, n int, logDir, stem string, env []string) (*Gateways, error) {
	if n < 1 || n > maxClusterNodes {
		return nil, fmt.Errorf("bench: %d gateway nodes: want 1 to %d", n, maxClusterNodes)
	}
	g := &Gateways{}
	if n == 1 {
		p, err := startPeer(ctx, setup, PeerGateway, filepath.Join(logDir, stem+".log"), false, env)
		if err != nil {
			return nil, err
		}
		g.Nodes = []*Peer{p}
		return g, nil
	}
	routes, err := freeRoutes(n)
	if err != nil {
		return nil, err
	}
	var logs []string
	for i := range n {
		id := nodeID(i)
		path := filepath.Join(logDir, stem+"-node-"+id+".log")
		p, err := startPeer(ctx, setup, PeerGateway, path, false, append(meshNodeEnv(i, routes), env...))
		if err == nil && p.Route == "" {
			_ = p.Stop()
			err = fmt.Errorf("bench: gateway node %s logged no nats_route_url before listening; see %s", id, path)
		}
		if err != nil {
			_ = g.Stop()
			return nil, err
		}
		g.Nodes = append(g.Nodes, p)
		logs = append(logs, path)
	}
	js, took, errs := waitStores(ctx, logs, storeReadyTimeout)
	g.JetStream, g.StoreReady = js, took
	if len(errs) > 0 || ctx.Err() != nil {
		_ = g.Stop()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("bench: %s", strings.Join(errs, "; "))
	}
	return g, nil
}

// nodeID names cluster node i: a, b, c, …
func nodeID(i int) string { return string(rune('a' + i)) }

// clusterNodeEnv is the environment that makes a gateway cluster node id,
// routed to the embedded NATS servers at routes (none for the first node),
// on a cluster port of its own choosing: a chain of nodes, each knowing
// only the ones before it, in which the gateway runs no JetStream.
func clusterNodeEnv(id string, routes []string) []string {
	return []string{"NODE_ID=" + id, "NATS_LISTEN=127.0.0.1:0", "NATS_CLUSTER_LISTEN=127.0.0.1:0",
		"NATS_ROUTES=" + strings.Join(routes, ",")}
}

// meshNodeEnv is the environment of node i of a full mesh whose route URLs
// (one per node, chosen beforehand: freeRoutes) are routes: it listens for
// routes on routes[i] and routes to all of them, its own included.
func meshNodeEnv(i int, routes []string) []string {
	return []string{"NODE_ID=" + nodeID(i), "NATS_LISTEN=127.0.0.1:0",
		"NATS_CLUSTER_LISTEN=" + strings.TrimPrefix(routes[i], "nats-route://"), "NATS_ROUTES=" + strings.Join(routes, ",")}
}

// waitStores waits, up to timeout in all, until every node whose log (at
// logs) shows it started JetStream says its recovery store is ready. It
// returns how many nodes started JetStream, how long the wait took (0 when
// none did) and, per node not ready in time, why.
func waitStores(ctx context.Context, logs []string, timeout time.Duration) (jetstream int, took time.Duration, errs []string) {
	start := time.Now()
	for _, path := range logs {
		if !logHas(path, "Starting JetStream") {
			continue
		}
		jetstream++
		if !waitLog(ctx, path, storeReadyLine, timeout-time.Since(start)) {
			errs = append(errs, fmt.Sprintf("no %q within %s; see %s", storeReadyLine, timeout, path))
		}
	}
	if jetstream > 0 {
		took = time.Since(start)
	}
	return jetstream, took, errs
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
