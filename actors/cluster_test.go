package actors_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/hyvve/gateway/transport/cluster"
)

// clusterHeartbeat is short so a stopped node is forgotten within a test.
const clusterHeartbeat = 100 * time.Millisecond

// startNode starts a gateway with an embedded NATS server routed to peers.
func startNode(t *testing.T, id string, routes ...string) *harness {
	t.Helper()
	return newHarness(t, func(o *options) {
		o.cluster = &cluster.Config{
			Listen: "127.0.0.1:0", ClusterListen: "127.0.0.1:0", Routes: routes, NodeID: id,
			HeartbeatInterval: clusterHeartbeat, RecipientsWait: 2 * time.Second,
		}
		o.actors.RecoveryWindow = time.Second // a gone node's users leave within a test
	})
}

// waitMesh waits until every node sees the others as peers.
func waitMesh(t *testing.T, nodes ...*harness) {
	t.Helper()
	for _, h := range nodes {
		h.eventually("cluster mesh", func() bool { return len(h.node.Peers()) == len(nodes)-1 })
	}
}

// waitHosts waits until every node knows which nodes host room.
func waitHosts(t *testing.T, room string, want []string, nodes ...*harness) {
	t.Helper()
	for _, h := range nodes {
		h.eventually("interest in "+room, func() bool {
			hosts := h.node.Hosts(room)
			slices.Sort(hosts)
			var others []string
			for _, w := range want {
				if w != h.node.ID() {
					others = append(others, w)
				}
			}
			return slices.Equal(hosts, others) || slices.Equal(hosts, want)
		})
	}
}

func publishFull(h *harness, room, event string, data any) map[string]any {
	h.t.Helper()
	b, _ := json.Marshal(map[string]any{"room": room, "event": event, "data": data})
	status, out := h.publish(publishKey, string(b))
	if status != http.StatusOK {
		h.t.Fatalf("publish: %d %v", status, out)
	}
	return out
}

func TestClusterFanOutAcrossThreeNodes(t *testing.T) {
	a := startNode(t, "a")
	b := startNode(t, "b", a.node.RouteURL())
	c := startNode(t, "c", a.node.RouteURL(), b.node.RouteURL())
	waitMesh(t, a, b, c)

	const room = "workspace:w:dashboard"
	onA, onB, onC := a.dial(token(t, "ua", "w")), b.dial(token(t, "ub", "w")), c.dial(token(t, "uc", "w"))
	onB2 := b.dial(token(t, "ub2", "w"))
	joinAll(room, onA)
	joinAll(room, onB, onB2)
	joinAll(room, onC)
	other := c.dial(token(t, "x", "other")) // another workspace, on a hosting node
	joinAll("workspace:other:dashboard", other)
	waitHosts(t, room, []string{"a", "b", "c"}, a, b, c)

	for i, origin := range []*harness{a, b, c} {
		out := publishFull(origin, room, "tick", i)
		if out["recipients"].(float64) != 4 || out["partial"] != nil {
			t.Fatalf("publish on node %d: %v, want 4 recipients in full", i, out)
		}
		for _, cl := range []*client{onA, onB, onB2, onC} {
			if got := string(cl.expectEvent("tick")); got != string(rune('0'+i)) {
				t.Fatalf("node %d: data %s", i, got)
			}
		}
	}
	// Exactly once: each client's next packet is the sentinel, not a duplicate.
	publishFull(a, room, "sentinel", nil)
	for _, cl := range []*client{onA, onB, onB2, onC} {
		cl.expectEvent("sentinel")
	}
	// Workspace isolation holds across nodes.
	publishFull(a, "workspace:other:dashboard", "private", nil)
	other.expectEvent("private")
	publishFull(b, room, "sentinel2", nil)
	for _, cl := range []*client{onA, onB, onB2, onC} {
		cl.expectEvent("sentinel2")
	}

	// Client relays cross nodes: a dashboard_action on A reaches B and C, not A.
	onA.call("dashboard_action", map[string]any{"action": "widget.move"})
	for _, cl := range []*client{onB, onB2, onC} {
		cl.expectEvent("dashboard_action")
	}
	// state_sync reaches the user's tabs on other nodes only.
	tab1, tab2 := a.dial(token(t, "carol", "w")), c.dial(token(t, "carol", "w"))
	waitHosts(t, "user:carol", []string{"a", "c"}, a, c)
	tab1.call("state_sync", map[string]any{"state": "s1"})
	if got := string(tab2.expectEvent("state_sync")); got != `{"state":"s1"}` {
		t.Fatalf("state_sync %s", got)
	}
	publishFull(b, "user:carol", "sentinel", nil)
	tab1.expectEvent("sentinel")
}

func TestClusterSurvivesANodeAndRejoins(t *testing.T) {
	a := startNode(t, "a")
	b := startNode(t, "b", a.node.RouteURL())
	c := startNode(t, "c", a.node.RouteURL(), b.node.RouteURL())
	waitMesh(t, a, b, c)
	const room = "workspace:w:approvals"
	onA, onB, onC := a.dial(token(t, "ua", "w")), b.dial(token(t, "ub", "w")), c.dial(token(t, "uc", "w"))
	joinAll(room, onA, onB, onC)
	waitHosts(t, room, []string{"a", "b", "c"}, a, b, c)

	c.stop() // c and its NATS server go away
	onC.expectClose(1001)
	waitHosts(t, room, []string{"a", "b"}, a, b)
	out := publishFull(a, room, "after.loss", nil)
	if out["recipients"].(float64) != 2 || out["partial"] != nil {
		t.Fatalf("after losing c: %v", out)
	}
	onA.expectEvent("after.loss")
	onB.expectEvent("after.loss")

	// A node started again joins the mesh and serves its members.
	c2 := startNode(t, "c", a.node.RouteURL(), b.node.RouteURL())
	waitMesh(t, a, b, c2)
	onC2 := c2.dial(token(t, "uc", "w"))
	joinAll(room, onC2)
	waitHosts(t, room, []string{"a", "b", "c"}, a, b, c2)
	if out := publishFull(b, room, "rejoined", nil); out["recipients"].(float64) != 3 {
		t.Fatalf("after rejoin: %v", out)
	}
	for _, cl := range []*client{onA, onB, onC2} {
		cl.expectEvent("rejoined")
	}
}
