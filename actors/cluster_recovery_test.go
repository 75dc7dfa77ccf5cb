package actors_test

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hyvve/gateway/actors"
	"github.com/hyvve/gateway/transport/cluster"
	"github.com/hyvve/gateway/transport/cluster/clustertest"
)

// startJSNodes starts count gateways with recovery on, each with an embedded
// NATS server listing every route (its own included: a clustered JetStream
// needs routes at start), and waits for the mesh and the recovery stores.
func startJSNodes(t *testing.T, count int) []*harness {
	t.Helper()
	routes := clustertest.Routes(t, count)
	var nodes []*harness
	for i := range count {
		nodes = append(nodes, newHarness(t, func(o *options) {
			o.actors.RecoveryWindow = time.Minute
			o.cluster = &cluster.Config{
				Listen: "127.0.0.1:0", ClusterListen: strings.TrimPrefix(routes[i], "nats-route://"), Routes: routes,
				NodeID: string(rune('a' + i)), HeartbeatInterval: clusterHeartbeat, RecipientsWait: 2 * time.Second,
				RecoveryWindow: time.Minute, RecoveryMaxMessages: actors.DefaultRecoveryMaxMessages,
			}
		}))
	}
	waitMesh(t, nodes...)
	for _, h := range nodes {
		select {
		case <-h.node.StoreReady():
		case <-time.After(30 * time.Second):
			t.Fatalf("recovery store of %s not ready", h.node.ID())
		}
	}
	return nodes
}

// offsetOf returns a broadcast's offset as a number.
func offsetNum(t *testing.T, b broadcast) uint64 {
	t.Helper()
	n, err := strconv.ParseUint(b.offset, 10, 64)
	if err != nil {
		t.Fatalf("offset %q", b.offset)
	}
	return n
}

// TestClusterRecoveryOnAnotherNode: a client on node A whose transport
// breaks reconnects to node B and recovers its session (same sid and pid,
// its rooms) with every broadcast node C published meanwhile, once each, in
// order, before anything newer.
func TestClusterRecoveryOnAnotherNode(t *testing.T) {
	nodes := startJSNodes(t, 3)
	a, b, c := nodes[0], nodes[1], nodes[2]
	const room = "workspace:w:approvals"
	tok := token(t, "u1", "w")
	cl := a.dial(tok)
	cl.call("join_room", map[string]any{"room": room})
	watcher := b.dial(token(t, "u2", "w")) // keeps the room hosted on b
	watcher.call("join_room", map[string]any{"room": room})
	waitHosts(t, room, []string{"a", "b"}, a, b, c)

	publishFull(c, room, "n", 0)
	first := cl.expectBroadcast("n")
	if w := watcher.expectBroadcast("n"); w.offset != first.offset {
		t.Fatalf("offsets differ across nodes: %s and %s", w.offset, first.offset)
	}
	// The session is in the cluster's bucket before its transport breaks.
	st := a.node.Store()
	a.eventually("session in the bucket", func() bool {
		rec, _, err := st.GetSession(context.Background(), cl.pid)
		return err == nil && strings.Contains(string(rec), room)
	})
	cl.breakTransport()
	a.kept(1)
	last := offsetNum(t, first)
	for i := 1; i <= 20; i++ {
		publishFull(c, room, "n", i)
		if w := watcher.expectBroadcast("n"); offsetNum(t, w) <= last {
			t.Fatalf("offset %s not after %d", w.offset, last)
		}
	}
	again := b.resume(tok, cl.pid, first.offset)
	if again.sid != cl.sid || again.pid != cl.pid {
		t.Fatalf("recovered as %q %q, want %q %q", again.sid, again.pid, cl.sid, cl.pid)
	}
	for i := 1; i <= 20; i++ {
		got := again.expectBroadcast("n")
		if string(got.data) != strconv.Itoa(i) {
			t.Fatalf("replay #%d: %s", i, got.data)
		}
		if n := offsetNum(t, got); n <= last {
			t.Fatalf("offset %d after %d", n, last)
		} else {
			last = n
		}
	}
	// Live on B now, nothing twice.
	publishFull(c, room, "n", 21)
	if got := again.expectBroadcast("n"); string(got.data) != "21" {
		t.Fatalf("live after replay: %s", got.data)
	}
	if b.recoveries("recovered") != 1 {
		t.Fatal("recovery not counted on b")
	}
	if strings.Contains(a.logs.String()+b.logs.String(), cl.pid) {
		t.Fatal("the pid was logged")
	}
}

// TestClusterRecoveryStolenPidAcrossNodes: another user's token with a pid
// from another node gets a fresh session, and the session stays.
func TestClusterRecoveryStolenPidAcrossNodes(t *testing.T) {
	nodes := startJSNodes(t, 3)
	a, b := nodes[0], nodes[1]
	tok := token(t, "u1", "w")
	cl := a.dial(tok)
	cl.call("join_room", map[string]any{"room": "workspace:w:dashboard"})
	st := a.node.Store()
	a.eventually("session in the bucket", func() bool {
		_, _, err := st.GetSession(context.Background(), cl.pid)
		return err == nil
	})
	cl.breakTransport()
	thief := b.resume(token(t, "mallory", "w"), cl.pid, "")
	if thief.sid == cl.sid || thief.pid == cl.pid {
		t.Fatal("stolen pid recovered")
	}
	if b.recoveries("denied") != 1 {
		t.Fatal("denied not counted")
	}
	owner := b.resume(tok, cl.pid, "")
	if owner.sid != cl.sid {
		t.Fatal("the owner lost the session to a thief's attempt")
	}
	publishFull(b, "workspace:w:dashboard", "live", 1)
	if got := owner.expectBroadcast("live"); string(got.data) != "1" {
		t.Fatalf("owner in its room again: %s", got.data)
	}
}

// TestClusterBroadcastWithoutHistoryIsRefused: a clustered node whose
// JetStream never forms (its only peer is not there) does not number a
// broadcast itself: the publish is refused, a client's relayed event gets
// UPSTREAM_UNAVAILABLE, and nobody receives either (a broadcast missing from
// the history would be a silent gap for a client away meanwhile).
func TestClusterBroadcastWithoutHistoryIsRefused(t *testing.T) {
	l1, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l2, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	own, absent := l1.Addr().String(), l2.Addr().String()
	l1.Close()
	l2.Close()
	h := newHarness(t, func(o *options) {
		o.actors.RecoveryWindow = time.Minute
		o.cluster = &cluster.Config{
			Listen: "127.0.0.1:0", ClusterListen: own, Routes: []string{"nats-route://" + own, "nats-route://" + absent},
			NodeID: "alone", HeartbeatInterval: clusterHeartbeat, RecipientsWait: 2 * time.Second,
			RecoveryWindow: time.Minute, RecoveryMaxMessages: actors.DefaultRecoveryMaxMessages,
		}
	})
	if !h.node.StoreWanted() {
		t.Fatal("a clustered node with recovery on wants the cluster's store")
	}
	const room = "workspace:w:dashboard"
	sender, other := h.dial(token(t, "s", "w")), h.dial(token(t, "o", "w"))
	joinAll(room, sender, other)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if _, err := h.sys.Publish(ctx, room, "n", []byte(`1`)); !errors.Is(err, actors.ErrHistoryUnavailable) {
		t.Fatalf("publish without a history: %v", err)
	}
	if got := sender.call("dashboard_action", map[string]any{"action": "approve"}); got["error"] != "UPSTREAM_UNAVAILABLE" {
		t.Fatalf("relay without a history: %v", got)
	}
	if n := h.metric("ws_history_refused_total"); n != 2 {
		t.Fatalf("ws_history_refused_total %v, want 2", n)
	}
	if n := h.metric("ws_room_deliveries_total"); n != 0 {
		t.Fatalf("%v deliveries of refused broadcasts", n)
	}
}
