package actors_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hyvve/gateway/actors"
	"github.com/hyvve/gateway/supervision"
)

func withConsole(o *options) { o.actors.Console = true }

// find returns the first node of the tree for which match holds.
func find(n *actors.ActorNode, match func(*actors.ActorNode) bool) *actors.ActorNode {
	if n == nil {
		return nil
	}
	if match(n) {
		return n
	}
	for _, c := range n.Children {
		if f := find(c, match); f != nil {
			return f
		}
	}
	return nil
}

func (h *harness) snapshot() *actors.Snapshot {
	h.t.Helper()
	snap, err := h.sys.Snapshot(h.t.Context())
	if err != nil {
		h.t.Fatal(err)
	}
	return snap
}

func TestSnapshotShowsTheTree(t *testing.T) {
	h := newHarness(t, withConsole, withFaults)
	const room = "workspace:w:dashboard"
	a, b := h.dial(token(t, "a", "w")), h.dial(token(t, "b", "w"))
	joinAll(room, a, b)

	snap := h.snapshot()
	if snap.Partial || snap.Tree == nil || snap.Tree.Kind != supervision.KindGateway {
		t.Fatalf("snapshot %+v", snap)
	}
	if len(snap.Connections) != 1 || snap.Connections[0] != (actors.ConnectionCount{Workspace: "w", Transport: "websocket", Count: 2}) {
		t.Fatalf("connections %+v", snap.Connections)
	}
	var dash *actors.RoomInfo
	for i := range snap.Rooms {
		if snap.Rooms[i].Name == room {
			dash = &snap.Rooms[i]
		}
	}
	if dash == nil || dash.Members != 2 || dash.Present != 2 || dash.Workspace != "w" {
		t.Fatalf("rooms %+v", snap.Rooms)
	}
	ws := find(snap.Tree, func(n *actors.ActorNode) bool { return n.Kind == supervision.KindWorkspace && n.Name == "w" })
	if ws == nil {
		t.Fatal("no workspace w in the tree")
	}
	conn := find(ws, func(n *actors.ActorNode) bool { return n.Kind == supervision.KindConnection && n.User == "a" })
	if conn == nil || conn.Rooms != 2 || find(conn, func(n *actors.ActorNode) bool { return n.Kind == supervision.KindRateLimiter }) == nil {
		t.Fatalf("connection of a: %+v", conn)
	}
	if ip := find(snap.Tree, func(n *actors.ActorNode) bool { return n.Kind == supervision.KindIPLimiter }); ip == nil || ip.Members != 2 {
		t.Fatalf("ip limiter: %+v", ip)
	}

	// A restart shows on the room's node, and membership is kept.
	if n := h.inject(supervision.KindRoom, room, supervision.FaultPanic, 0); n != 1 {
		t.Fatalf("injected %d", n)
	}
	h.publishLost(room)
	snap = h.snapshot()
	r := find(snap.Tree, func(n *actors.ActorNode) bool { return n.Kind == supervision.KindRoom && n.Name == room })
	if r == nil || r.Restarts != 1 || r.Members != 2 {
		t.Fatalf("room after a restart: %+v", r)
	}
}

func TestSnapshotSkipsAStalledActor(t *testing.T) {
	h := newHarness(t, withConsole, withFaults)
	const room = "workspace:w:dashboard"
	a := h.dial(token(t, "a", "w"))
	joinAll(room, a)
	if n := h.inject(supervision.KindRoom, room, supervision.FaultStall, 3*time.Second); n != 1 {
		t.Fatalf("injected %d", n)
	}
	// The room stalls on this publish. With a cancelled context Publish
	// returns once the message is on its way, ahead of the snapshot's ask.
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := h.sys.Publish(ctx, room, "stall", nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("publish: %v", err)
	}
	snap := h.snapshot()
	if !snap.Partial {
		t.Fatal("a stalled room answered a snapshot")
	}
	if find(snap.Tree, func(n *actors.ActorNode) bool { return n.Kind == supervision.KindConnection }) == nil {
		t.Fatal("the rest of the tree is missing")
	}
}

func TestSnapshotOffWithoutConsole(t *testing.T) {
	h := newHarness(t)
	if _, err := h.sys.Snapshot(h.t.Context()); !errors.Is(err, actors.ErrSnapshotsOff) {
		t.Fatalf("err %v", err)
	}
}
