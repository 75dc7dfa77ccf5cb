package cluster

import (
	"encoding/json"
	"log/slog"
	"net"
	"net/url"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/prometheus/client_golang/prometheus"
)

// testLog discards unless CLUSTER_TEST_LOG is set (nats-server goroutines may
// log after a test ended, so testing.T is not used as a sink).
func testLog() *slog.Logger {
	if os.Getenv("CLUSTER_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// fast shortens the timings so that expiry and reconnects happen in tests.
func fast(c Config) Config {
	c.HeartbeatInterval = 100 * time.Millisecond
	c.ReconnectWait = 100 * time.Millisecond
	if c.RecipientsWait == 0 {
		c.RecipientsWait = 2 * time.Second // generous: -race on 2 cores
	}
	return c
}

func startNode(t testing.TB, cfg Config) *Node {
	t.Helper()
	n, err := Start(cfg, testLog(), prometheus.NewRegistry())
	if err != nil {
		t.Fatalf("Start(%+v): %v", cfg, err)
	}
	t.Cleanup(n.Close)
	return n
}

// embedded returns the config of an embedded node on loopback, random ports.
func embedded(id string, routes ...string) Config {
	return fast(Config{NodeID: id, Listen: "127.0.0.1:0", ClusterListen: "127.0.0.1:0", Routes: routes})
}

// startMesh starts count embedded nodes routed together and waits until the
// route mesh is complete and every node knows every other one.
func startMesh(t testing.TB, count int) []*Node {
	t.Helper()
	var nodes []*Node
	var routes []string
	for i := range count {
		n := startNode(t, embedded(string(rune('a'+i)), routes...))
		nodes = append(nodes, n)
		routes = append(routes, n.RouteURL())
	}
	waitMesh(t, nodes...)
	return nodes
}

// waitMesh waits until each node's server has routes to all the others and
// each node's registry lists all the others.
func waitMesh(t testing.TB, nodes ...*Node) {
	t.Helper()
	for _, n := range nodes {
		waitFor(t, "route mesh of "+n.ID(), func() bool {
			if n.srv == nil {
				return true
			}
			rz, err := n.srv.Routez(&server.RoutezOptions{})
			if err != nil {
				return false
			}
			remote := map[string]bool{}
			for _, r := range rz.Routes {
				remote[r.RemoteID] = true
			}
			return len(remote) == len(nodes)-1
		})
	}
	for _, n := range nodes {
		waitFor(t, "peers of "+n.ID(), func() bool { return len(n.Peers()) == len(nodes)-1 })
	}
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitHosts waits until n's registry says exactly want host room.
func waitHosts(t testing.TB, n *Node, room string, want ...string) {
	t.Helper()
	slices.Sort(want)
	waitFor(t, n.ID()+" hosts of "+room+" = "+fmtList(want), func() bool {
		h := n.Hosts(room)
		slices.Sort(h)
		return slices.Equal(h, want)
	})
}

func fmtList(s []string) string { b, _ := json.Marshal(s); return string(b) }

// recorder is a deliver func that records deliveries and replies with a
// fixed count, as a room actor would after its fan-out.
type recorder struct {
	count int // replied count; negative = never reply
	ch    chan *Delivery
}

func newRecorder(count int) *recorder { return &recorder{count: count, ch: make(chan *Delivery, 4096)} }

func (r *recorder) deliver(d *Delivery) {
	select {
	case r.ch <- d:
	default:
		panic("recorder full")
	}
	if r.count >= 0 {
		d.Reply(r.count)
	}
}

// next waits for the next delivery.
func (r *recorder) next(t testing.TB) *Delivery {
	t.Helper()
	select {
	case d := <-r.ch:
		return d
	case <-time.After(10 * time.Second):
		t.Fatal("no delivery")
		return nil
	}
}

// until receives up to and including the delivery of event marker and
// returns the deliveries before it.
func (r *recorder) until(t testing.TB, marker string) []*Delivery {
	t.Helper()
	var got []*Delivery
	for {
		d := r.next(t)
		if d.Event == marker {
			return got
		}
		got = append(got, d)
	}
}

// none asserts that nothing is queued.
func (r *recorder) none(t testing.TB) {
	t.Helper()
	select {
	case d := <-r.ch:
		t.Fatalf("unexpected delivery %+v", d)
	default:
	}
}

// plainServer starts a standalone nats-server on 127.0.0.1:port (0 = random).
func plainServer(t testing.TB, port int) *server.Server {
	t.Helper()
	if port == 0 {
		port = server.RANDOM_PORT
	}
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: port, NoSigs: true, NoLog: true})
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server not ready")
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	return s
}

func portOf(t testing.TB, rawURL string) string {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	_, p, err := net.SplitHostPort(u.Host)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
