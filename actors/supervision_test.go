package actors_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/hyvve/gateway/actors"

	"github.com/hyvve/gateway/supervision"
)

func (h *harness) inject(kind supervision.Kind, target string, fault supervision.Fault, d time.Duration) int {
	h.t.Helper()
	n, err := h.sys.InjectFault(h.t.Context(), kind, target, fault, d)
	if err != nil {
		h.t.Fatal(err)
	}
	return n
}

// publishLost publishes the message an actor is expected to fail on: it is
// lost, and the publisher is told so at once.
func (h *harness) publishLost(room string) {
	h.t.Helper()
	if _, err := h.sys.Publish(h.t.Context(), room, "lost", nil); !errors.Is(err, actors.ErrActorFailed) {
		h.t.Fatalf("publish the actor failed on: %v, want ErrActorFailed", err)
	}
}

// joinAll joins every client to room.
func joinAll(room string, cs ...*client) {
	for _, c := range cs {
		if got := c.call("join_room", map[string]any{"room": room}); got["joined"] != room {
			c.t.Fatalf("join %s: %v", room, got)
		}
	}
}

func TestRoomPanicKeepsMembership(t *testing.T) {
	h := newHarness(t, withFaults)
	const room = "workspace:w:dashboard"
	a, b := h.dial(token(t, "a", "w")), h.dial(token(t, "b", "w"))
	joinAll(room, a, b)
	if n := h.inject(supervision.KindRoom, room, supervision.FaultPanic, 0); n != 1 {
		t.Fatalf("injected %d", n)
	}
	// The room fails on this publish (the one message that may be lost) and restarts.
	h.publishLost(room)
	if n := h.mustPublish(room, "after.restart", 1); n != 2 {
		t.Fatalf("recipients after restart %d, want 2", n)
	}
	a.expectEvent("after.restart")
	b.expectEvent("after.restart")
	if got := h.metric("actor_restarts_total", "kind", "room"); got != 1 {
		t.Fatalf("room restarts %v", got)
	}
	if got := h.metric("ws_rooms_active"); got != 3 {
		t.Fatalf("rooms %v, want 3 (the dashboard and two user rooms)", got)
	}
	// Membership bookkeeping still works after the restart: a leaver is gone.
	a.call("leave_room", map[string]any{"room": room})
	if n := h.mustPublish(room, "x", nil); n != 1 {
		t.Fatalf("recipients after leave %d", n)
	}
	// And a member's end still reaches the restarted room as Terminated.
	_ = b.ws.Close()
	h.eventually("b's seat freed", func() bool { res, _ := h.sys.Publish(t.Context(), room, "y", nil); return res.Recipients == 0 })
}

func TestRoomRestartBudgetRunsOut(t *testing.T) {
	h := newHarness(t, withFaults)
	const room = "workspace:w:approvals"
	a, b := h.dial(token(t, "a", "w")), h.dial(token(t, "b", "w"))
	joinAll(room, a, b)
	for i := 0; i < 4; i++ { // a budget of 3 restarts: the 4th failure stops it
		if n := h.inject(supervision.KindRoom, room, supervision.FaultPanic, 0); n != 1 {
			t.Fatalf("round %d: injected %d", i, n)
		}
		h.publishLost(room)
	}
	for _, c := range []*client{a, b} {
		var body map[string]string
		if err := json.Unmarshal(c.expectEvent("error"), &body); err != nil || body["code"] != "ROOM_FAILED" || body["room"] != room {
			t.Fatalf("want ROOM_FAILED for %s, got %v", room, body)
		}
	}
	if got := h.metric("actor_failures_total", "kind", "room", "directive", "stop"); got != 1 {
		t.Fatalf("stops %v", got)
	}
	if !strings.Contains(h.logs.String(), `"directive":"stop"`) {
		t.Fatal("the stop was not logged")
	}
	// Members may join again: a fresh room serves them.
	joinAll(room, a, b)
	if n := h.mustPublish(room, "again", nil); n != 2 {
		t.Fatalf("recipients %d", n)
	}
	a.expectEvent("again")
	b.expectEvent("again")
}

func TestConnectionPanicDisconnectsOnlyThatClient(t *testing.T) {
	h := newHarness(t, withFaults, func(o *options) { o.actors.MaxConnectionsPerIP = 2 })
	const room = "workspace:w:dashboard"
	victim, bystander := h.dial(token(t, "v", "w")), h.dial(token(t, "b", "w"))
	joinAll(room, victim, bystander)
	if n := h.inject(supervision.KindConnection, victim.sid, supervision.FaultPanic, 0); n != 1 {
		t.Fatalf("injected %d", n)
	}
	victim.emit("state_sync", map[string]any{"state": 1}, false) // the message it fails on
	victim.expectClose(websocket.CloseInternalServerErr)
	h.eventually("victim uncounted", func() bool { return h.connections() == 1 })
	if n := h.mustPublish(room, "still.flowing", nil); n != 1 {
		t.Fatalf("recipients %d, want 1", n)
	}
	bystander.expectEvent("still.flowing")
	h.dial(token(t, "v", "w")) // the per-IP slot was freed: 2 of 2 again
	if _, code := h.dialRefused(`40{"token":"` + token(t, "x", "w") + `"}`); code != "TOO_MANY_CONNECTIONS" {
		t.Fatalf("code %s", code)
	}
	// Counted when the socket is fully closed, after the client saw the close frame.
	h.eventually("actor_failure disconnect counted", func() bool {
		return h.metric("ws_disconnects_total", "reason", "actor_failure") == 1
	})
	if n := h.inject(supervision.KindConnection, "no-such-sid", supervision.FaultPanic, 0); n != 0 {
		t.Fatalf("injected into a missing sid: %d", n)
	}
}

func TestWorkspacePanicDisconnectsNobody(t *testing.T) {
	h := newHarness(t, withFaults)
	const room = "workspace:w:dashboard"
	a, b := h.dial(token(t, "a", "w")), h.dial(token(t, "b", "w"))
	joinAll(room, a, b)
	if n := h.inject(supervision.KindWorkspace, "w", supervision.FaultPanic, 0); n != 1 {
		t.Fatalf("injected %d", n)
	}
	h.publishLost(room) // the workspace fails on this one
	if n := h.mustPublish(room, "after", nil); n != 2 {
		t.Fatalf("recipients %d, want 2", n)
	}
	a.expectEvent("after")
	b.expectEvent("after")
	if h.connections() != 2 || h.metric("ws_workspaces_active") != 1 {
		t.Fatalf("connections %v workspaces %v", h.connections(), h.metric("ws_workspaces_active"))
	}
	// New joins are still routed by the resumed workspace.
	joinAll("workspace:w:approvals", a)
}

func TestRateLimiterPanicRestartsIt(t *testing.T) {
	h := newHarness(t, withFaults, func(o *options) { o.actors.MaxMessagesPerMinute = 4 })
	c := h.dial(token(t, "u", "w"))
	c.call("join_room", map[string]any{"room": "user:u"})
	c.call("join_room", map[string]any{"room": "user:u"})
	if n := h.inject(supervision.KindRateLimiter, c.sid, supervision.FaultPanic, 0); n != 1 {
		t.Fatalf("injected %d", n)
	}
	c.emit("join_room", map[string]any{"room": "user:u"}, false) // lost with the panic
	// The restarted limiter kept its bucket: 4 - 2 = 2 left (the lost event
	// failed before taking one), then limited.
	for i := 0; i < 2; i++ {
		if got := c.call("join_room", map[string]any{"room": "user:u"}); got["joined"] != "user:u" {
			t.Fatalf("after restart: %v", got)
		}
	}
	if got := c.call("join_room", map[string]any{"room": "user:u"}); got["error"] != "RATE_LIMITED" {
		t.Fatalf("budget reset by the restart: %v", got)
	}
	if h.metric("actor_restarts_total", "kind", "ratelimiter") != 1 || h.connections() != 1 {
		t.Fatal("limiter not restarted, or the connection was lost")
	}
}

func TestIPLimiterPanicNeitherLeaksNorDoubleFrees(t *testing.T) {
	h := newHarness(t, withFaults, func(o *options) { o.actors.MaxConnectionsPerIP = 2 })
	first, _ := h.dial(token(t, "a", "w")), h.dial(token(t, "b", "w"))
	if n := h.inject(supervision.KindIPLimiter, "127.0.0.1", supervision.FaultPanic, 0); n != 1 {
		t.Fatalf("injected %d", n)
	}
	// The limiter fails on this connection's admission ask; the connection
	// asks again and is refused: the restarted limiter still holds 2 slots.
	if _, code := h.dialRefused(`40{"token":"` + token(t, "c", "w") + `"}`); code != "TOO_MANY_CONNECTIONS" {
		t.Fatalf("code %s", code)
	}
	_ = first.ws.Close()
	h.eventually("slot freed", func() bool { return h.connections() == 1 })
	h.dial(token(t, "d", "w"))
	if _, code := h.dialRefused(`40{"token":"` + token(t, "e", "w") + `"}`); code != "TOO_MANY_CONNECTIONS" {
		t.Fatalf("slot freed twice: code %s", code)
	}
}

func TestStalledConnectionNeverDelaysItsRoom(t *testing.T) {
	h := newHarness(t, withFaults)
	const room = "workspace:w:dashboard"
	stalled, other := h.dial(token(t, "s", "w")), h.dial(token(t, "o", "w"))
	joinAll(room, stalled, other)
	if n := h.inject(supervision.KindConnection, stalled.sid, supervision.FaultStall, 2*time.Second); n != 1 {
		t.Fatalf("injected %d", n)
	}
	id := stalled.emit("join_room", map[string]any{"room": "user:s"}, true) // stalls its actor
	h.mustPublish(room, "live", nil)
	other.expectEvent("live")
	// The stalled actor's frames still flow (rooms write to its queue, not
	// its mailbox): the broadcast arrives before the stalled ack.
	stalled.expectEvent("live")
	if p := stalled.next(); p.AckID != id {
		t.Fatalf("want the delayed ack, got %+v", p)
	}
}

func TestSlowClientIsDroppedAndOthersKeepReceiving(t *testing.T) {
	h := newHarness(t, withFaults, func(o *options) {
		o.transport.OutboundQueueBytes = 256 << 10
		o.transport.MaxMessageBytes = 200 << 10
	})
	const room = "workspace:w:dashboard"
	fast := h.dial(token(t, "f", "w"))
	slow := h.dial(token(t, "s", "w"))
	joinAll(room, fast, slow)
	slow.pause() // stops reading its socket
	payload := strings.Repeat("x", 100<<10)
	for i := 0; h.metric("ws_disconnects_total", "reason", "slow_client") == 0; i++ {
		if i > 2000 {
			t.Fatal("slow client never dropped")
		}
		h.mustPublish(room, "big", payload)
		fast.expectEvent("big")
	}
	if n := h.mustPublish(room, "after", nil); n != 1 {
		t.Fatalf("recipients %d, want 1", n)
	}
	fast.expectEvent("after")
}

func TestInjectedPanicDoesNotHoldBackTheIdleStop(t *testing.T) {
	h := newHarness(t, withFaults, func(o *options) { o.actors.RoomIdleTimeout = 20 * time.Millisecond })
	const room = "workspace:w:dashboard"
	c := h.dial(token(t, "u", "w"))
	joinAll(room, c)
	h.inject(supervision.KindRoom, room, supervision.FaultPanic, 0)
	h.publishLost(room) // routed to the room, lost to the panic
	c.call("leave_room", map[string]any{"room": room})
	h.eventually("the empty room stopped", func() bool { return h.metric("ws_rooms_active") == 1 })
}

func TestEmptyRoomStopsEvenAfterAStaleIdleReport(t *testing.T) {
	h := newHarness(t, withFaults, func(o *options) { o.actors.RoomIdleTimeout = time.Millisecond })
	const room = "workspace:w:approvals"
	c := h.dial(token(t, "u", "w"))
	joinAll(room, c)
	c.call("leave_room", map[string]any{"room": room})
	// Publishes racing the room's idle reports make some of them stale.
	for i := 0; i < 200; i++ {
		_, _ = h.sys.Publish(t.Context(), room, "x", nil)
	}
	h.eventually("the empty room stopped", func() bool { return h.metric("ws_rooms_active") == 1 })
}

func TestRateLimiterOutOfBudgetClosesItsConnection(t *testing.T) {
	h := newHarness(t, withFaults, func(o *options) { o.actors.MaxMessagesPerMinute = 1000 })
	c := h.dial(token(t, "u", "w"))
	for i := 0; i <= 10; i++ { // a budget of 10 restarts a minute: the 11th failure stops it
		if n := h.inject(supervision.KindRateLimiter, c.sid, supervision.FaultPanic, 0); n != 1 {
			t.Fatalf("round %d: injected %d", i, n)
		}
		c.emit("state_sync", map[string]any{"state": i}, false)
		want := float64(i + 1)
		h.eventually("the limiter failed", func() bool { return h.metric("actor_failures_total", "kind", "ratelimiter") == want })
	}
	c.expectClose(websocket.CloseInternalServerErr)
	h.eventually("connection uncounted", func() bool { return h.connections() == 0 })
}

// TestConnectDuringAWorkspaceRestartSucceeds: a workspace that fails on a
// client's spawn is resumed by its supervisor, and that client is taken in
// by the resumed workspace, not refused as if the server were shutting down.
func TestConnectDuringAWorkspaceRestartSucceeds(t *testing.T) {
	h := newHarness(t, withFaults)
	a := h.dial(token(t, "a", "w")) // the workspace exists
	if n := h.inject(supervision.KindWorkspace, "w", supervision.FaultPanic, 0); n != 1 {
		t.Fatalf("injected %d", n)
	}
	b := h.dial(token(t, "b", "w")) // the workspace fails on this spawn
	h.eventually("the workspace's failure on the spawn", func() bool { return h.metric("actor_failures_total", "kind", "workspace") == 1 })
	joinAll("workspace:w:dashboard", a, b)
	if n := h.mustPublish("workspace:w:dashboard", "after", nil); n != 2 {
		t.Fatalf("recipients %d, want 2", n)
	}
	b.expectEvent("after")
}
