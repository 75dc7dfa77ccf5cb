package actors_test

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hyvve/gateway/actors"
	"github.com/hyvve/gateway/messages"
	"github.com/hyvve/gateway/transport/socketio"
)

// broadcast is one room broadcast as a client received it.
type broadcast struct {
	event  string
	data   json.RawMessage
	offset string
}

// expectBroadcast returns the next packet, which must be event with its
// data and, last, its offset as a string.
func (c *client) expectBroadcast(event string) broadcast {
	c.t.Helper()
	p := c.next()
	if p.Type != socketio.Event || p.Event != event || len(p.Args) != 2 {
		c.t.Fatalf("want broadcast %q with data and offset, got %+v %s", event, p, p.Args)
	}
	var off string
	if err := json.Unmarshal(p.Args[1], &off); err != nil || off == "" {
		c.t.Fatalf("offset %s is not a string", p.Args[1])
	}
	return broadcast{event: p.Event, data: p.Args[0], offset: off}
}

// resume reconnects with the session's pid and, when offset is not empty,
// the offset of the last broadcast received.
func (h *harness) resume(tok, pid, offset string) *client {
	h.t.Helper()
	auth := map[string]any{"token": tok, "pid": pid}
	if offset != "" {
		auth["offset"] = offset
	}
	return h.dialAuth(auth)
}

// kept waits until n sessions are kept for recovery: a session is handed
// over by the connection's teardown, which no client can observe.
func (h *harness) kept(n float64) {
	h.t.Helper()
	h.eventually("sessions kept "+strconv.FormatFloat(n, 'f', -1, 64), func() bool { return h.metric("ws_sessions_kept") == n })
}

func (h *harness) recoveries(result string) float64 {
	return h.metric("ws_recoveries_total", "result", result)
}

// breakTransport drops the client's TCP connection under its session, as a
// network blip does.
func (c *client) breakTransport() {
	_ = c.ws.Close()
	<-c.closed
}

func TestRecoveryReplaysWhatWasMissed(t *testing.T) {
	h := newHarness(t)
	const room = "workspace:w:dashboard"
	tok := token(t, "u1", "w")
	c := h.dial(tok)
	if c.pid == "" || len(c.pid) < 22 {
		t.Fatalf("pid %q: want ≥128 random bits, base64url", c.pid)
	}
	c.call("join_room", map[string]any{"room": room})
	h.mustPublish(room, "n", 1)
	first := c.expectBroadcast("n")
	if string(first.data) != "1" {
		t.Fatalf("first broadcast %s", first.data)
	}

	c.breakTransport()
	h.kept(1)
	for i := 2; i <= 4; i++ {
		if n := h.mustPublish(room, "n", i); n != 0 {
			t.Fatalf("published to %d members while the client was away", n)
		}
	}
	h.mustPublish("user:u1", "direct", "for u1")

	again := h.resume(tok, c.pid, first.offset)
	if again.sid != c.sid || again.pid != c.pid {
		t.Fatalf("recovered as sid %q pid %q, want the session's %q %q", again.sid, again.pid, c.sid, c.pid)
	}
	last, _ := strconv.ParseUint(first.offset, 10, 64)
	var got []string
	for i := 0; i < 4; i++ {
		p := again.next()
		if p.Type != socketio.Event || len(p.Args) != 2 {
			t.Fatalf("replayed %+v %s", p, p.Args)
		}
		var off string
		_ = json.Unmarshal(p.Args[1], &off)
		n, _ := strconv.ParseUint(off, 10, 64)
		if n <= last {
			t.Fatalf("offset %d after %d: not increasing", n, last)
		}
		last = n
		got = append(got, p.Event+":"+string(p.Args[0]))
	}
	if strings.Join(got, " ") != `n:2 n:3 n:4 direct:"for u1"` {
		t.Fatalf("replay %v", got)
	}
	// In its rooms again, live after the replay.
	if n := h.mustPublish(room, "n", 5); n != 1 {
		t.Fatalf("recipients %d after recovery", n)
	}
	if b := again.expectBroadcast("n"); string(b.data) != "5" {
		t.Fatalf("live after replay %s", b.data)
	}
	if ack := again.call("join_room", map[string]any{"room": room}); ack["joined"] != room {
		t.Fatalf("join after recovery %v", ack)
	}
	if h.recoveries("recovered") != 1 {
		t.Fatal("ws_recoveries_total{result=recovered} not counted")
	}
	h.kept(0) // the taken session stopped
	// Kicks find it by the recovered sid.
	if !h.sys.Kick(c.sid, messages.CloseKicked) {
		t.Fatal("no connection under the recovered sid")
	}
	logs := h.logs.String()
	if strings.Contains(logs, c.pid) {
		t.Fatal("the pid was logged")
	}
	if !strings.Contains(logs, `"msg":"session recovery","result":"recovered","sid":"`+c.sid+`","user_id":"u1"`) {
		t.Fatalf("no recovery log line:\n%s", logs)
	}
}

func TestRecoveryWithoutOffsetReplaysTheWholeSession(t *testing.T) {
	h := newHarness(t)
	tok := token(t, "u1", "w")
	h.mustPublish("user:u1", "before", 0) // before the session: never replayed
	c := h.dial(tok)
	c.breakTransport()
	h.kept(1)
	h.mustPublish("user:u1", "missed", 1)
	again := h.resume(tok, c.pid, "")
	if again.sid != c.sid {
		t.Fatal("not recovered")
	}
	if b := again.expectBroadcast("missed"); string(b.data) != "1" {
		t.Fatalf("replay %s", b.data)
	}
}

// TestRecoverySeamUnderConcurrentPublishes: a client recovers while a
// publisher floods its room; across both connections it gets every number
// once, in order.
func TestRecoverySeamUnderConcurrentPublishes(t *testing.T) {
	h := newHarness(t, func(o *options) { o.actors.RecoveryMaxMessages = 1 << 20 })
	const room = "workspace:w:approvals"
	tok := token(t, "u1", "w")
	c := h.dial(tok)
	c.call("join_room", map[string]any{"room": room})
	// Another member keeps the room alive and shows the stream's pace.
	watcher := h.dial(token(t, "u2", "w"))
	watcher.call("join_room", map[string]any{"room": room})

	stop, done := make(chan struct{}), make(chan struct{})
	stopPublisher := sync.OnceFunc(func() { close(stop) })
	t.Cleanup(func() { stopPublisher(); <-done })
	var total int
	go func() {
		n := 0
		defer func() { total = n; close(done) }()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := h.sys.Publish(context.Background(), room, "n", json.RawMessage(strconv.Itoa(n+1))); err != nil {
				t.Errorf("publish: %v", err)
				return
			}
			n++
		}
	}()

	next := 1
	var offset string
	take := func(cl *client, upTo int) {
		t.Helper()
		for next <= upTo {
			b := cl.expectBroadcast("n")
			if string(b.data) != strconv.Itoa(next) {
				t.Fatalf("got %s, want %d (a gap or a duplicate)", b.data, next)
			}
			offset = b.offset
			next++
		}
	}
	take(c, 50)
	c.breakTransport()
	h.kept(1)
	again := h.resume(tok, c.pid, offset)
	if again.sid != c.sid {
		t.Fatal("not recovered")
	}
	take(again, next+200) // replay, seam and live
	stopPublisher()
	<-done
	take(again, total)
	for watcherNext := 1; watcherNext <= total; watcherNext++ {
		if b := watcher.expectBroadcast("n"); string(b.data) != strconv.Itoa(watcherNext) {
			t.Fatalf("watcher got %s, want %d", b.data, watcherNext)
		}
	}
	// Nothing more than the stream.
	h.mustPublish(room, "end", nil)
	if p := again.next(); p.Event != "end" {
		t.Fatalf("after the stream: %+v %s", p, p.Args)
	}
}

func TestRecoveryFallsBackToAFreshSession(t *testing.T) {
	const room = "workspace:w:dashboard"
	// fresh checks a fresh session: new sid and pid, only its user room.
	fresh := func(t *testing.T, h *harness, old, c *client, result string) {
		t.Helper()
		if c.sid == old.sid || c.pid == old.pid || c.pid == "" {
			t.Fatalf("sid %q pid %q: want a fresh session", c.sid, c.pid)
		}
		if got := h.recoveries(result); got != 1 {
			t.Fatalf("ws_recoveries_total{result=%q} = %v", result, got)
		}
		if n := h.mustPublish(room, "room", nil); n != 0 {
			t.Fatalf("a fresh session is in %s (%d recipients)", room, n)
		}
	}
	session := func(h *harness, tok string) (*client, broadcast) {
		c := h.dial(tok)
		c.call("join_room", map[string]any{"room": room})
		h.mustPublish(room, "seen", 0)
		return c, c.expectBroadcast("seen")
	}

	t.Run("own disconnect", func(t *testing.T) {
		h := newHarness(t)
		tok := token(t, "u1", "w")
		c, b := session(h, tok)
		c.writeText("41")
		c.expectClose(1000)
		h.eventually("connection gone", func() bool { return h.connections() == 0 })
		if h.metric("ws_sessions_kept") != 0 {
			t.Fatal("a session ended by the client was kept")
		}
		fresh(t, h, c, h.resume(tok, c.pid, b.offset), "unknown")
	})

	t.Run("stolen pid", func(t *testing.T) {
		h := newHarness(t)
		tok := token(t, "u1", "w")
		c, b := session(h, tok)
		c.breakTransport()
		h.kept(1)
		h.mustPublish(room, "secret", "for u1")
		thief := h.resume(token(t, "mallory", "w"), c.pid, b.offset)
		fresh(t, h, c, thief, "denied")
		h.mustPublish("user:mallory", "sentinel", nil)
		if p := thief.next(); p.Event != "sentinel" {
			t.Fatalf("the thief got %+v %s", p, p.Args)
		}
		// Another workspace's token of the same user is refused too.
		other := h.resume(token(t, "u1", "w2"), c.pid, b.offset)
		if other.sid == c.sid || h.recoveries("denied") != 2 {
			t.Fatal("another workspace recovered the session")
		}
		// The owner still recovers.
		owner := h.resume(tok, c.pid, b.offset)
		if owner.sid != c.sid {
			t.Fatal("the owner lost the session to a stolen pid")
		}
		if s := owner.expectBroadcast("secret"); string(s.data) != `"for u1"` {
			t.Fatalf("owner replay %s", s.data)
		}
	})

	t.Run("window expired", func(t *testing.T) {
		h := newHarness(t, func(o *options) { o.actors.RecoveryWindow = 50 * time.Millisecond })
		tok := token(t, "u1", "w")
		c, b := session(h, tok)
		c.breakTransport()
		h.kept(1)
		h.kept(0) // the detached session stopped itself: the window ended
		fresh(t, h, c, h.resume(tok, c.pid, b.offset), "expired")
	})

	t.Run("missed more than kept", func(t *testing.T) {
		h := newHarness(t, func(o *options) { o.actors.RecoveryMaxMessages = 3 })
		tok := token(t, "u1", "w")
		c, b := session(h, tok)
		c.breakTransport()
		h.kept(1)
		for i := 0; i < 4; i++ {
			h.mustPublish(room, "n", i)
		}
		fresh(t, h, c, h.resume(tok, c.pid, b.offset), "too_old")
	})

	t.Run("unknown pid", func(t *testing.T) {
		h := newHarness(t)
		tok := token(t, "u1", "w")
		c, b := session(h, tok)
		c.call("leave_room", map[string]any{"room": room})
		fresh(t, h, c, h.resume(tok, "AAAAAAAAAAAAAAAAAAAAAA", b.offset), "unknown")
	})

	t.Run("not an offset", func(t *testing.T) {
		h := newHarness(t)
		tok := token(t, "u1", "w")
		c, _ := session(h, tok)
		c.breakTransport()
		h.kept(1)
		fresh(t, h, c, h.resume(tok, c.pid, "-1"), "unknown")
	})
}

func TestRecoveryNeverSkipsAuthentication(t *testing.T) {
	h := newHarness(t)
	tok := token(t, "u1", "w")
	c := h.dial(tok)
	c.breakTransport()
	h.kept(1)
	_, code := h.dialRefused(`40{"token":"not.a.jwt","pid":"` + c.pid + `","offset":"0"}`)
	if code != "INVALID_TOKEN" {
		t.Fatalf("code %s", code)
	}
	_, code = h.dialRefused(`40{"pid":"` + c.pid + `"}`)
	if code != "AUTH_REQUIRED" {
		t.Fatalf("code %s", code)
	}
	if again := h.resume(tok, c.pid, ""); again.sid != c.sid {
		t.Fatal("refused attempts cost the owner the session")
	}
	if strings.Contains(h.logs.String(), c.pid) {
		t.Fatal("the pid was logged")
	}
}

func TestRecoveryRechecksRoomsAgainstTheNewToken(t *testing.T) {
	h := newHarness(t)
	const kept, revoked = "workspace:w:dashboard", "workspace:w2:dashboard"
	c := h.dial(token(t, "u1", "w", withWorkspaces("w2")))
	c.call("join_room", map[string]any{"room": kept})
	c.call("join_room", map[string]any{"room": revoked})
	h.mustPublish(kept, "seen", 0)
	b := c.expectBroadcast("seen")
	c.breakTransport()
	h.kept(1)
	h.mustPublish(revoked, "hidden", "no longer yours")
	h.mustPublish(kept, "missed", 1)

	again := h.resume(token(t, "u1", "w"), c.pid, b.offset) // w2 dropped from the claims
	if again.sid != c.sid {
		t.Fatal("not recovered")
	}
	var sawDenied, sawMissed bool
	for !(sawDenied && sawMissed) {
		p := again.next()
		switch {
		case p.Event == "error":
			var e map[string]string
			_ = json.Unmarshal(p.Args[0], &e)
			if e["code"] != "ACCESS_DENIED" || e["room"] != revoked {
				t.Fatalf("error %v", e)
			}
			sawDenied = true
		case p.Event == "missed":
			sawMissed = true
		default:
			t.Fatalf("got %+v %s (a revoked room's broadcast leaked?)", p, p.Args)
		}
	}
	if n := h.mustPublish(revoked, "after", nil); n != 0 {
		t.Fatalf("still in the revoked room (%d recipients)", n)
	}
	if n := h.mustPublish(kept, "after", nil); n != 1 {
		t.Fatalf("not in the kept room (%d recipients)", n)
	}
}

func TestRecoveryOffIsTheOldContract(t *testing.T) {
	h := newHarness(t, func(o *options) { o.actors.RecoveryWindow = -1 })
	tok := token(t, "u1", "w")
	c := h.dial(tok)
	if c.pid != "" {
		t.Fatal("a pid with recovery off")
	}
	h.mustPublish("user:u1", "e", 1)
	if p := c.next(); p.Event != "e" || len(p.Args) != 1 {
		t.Fatalf("recovery off: %+v %s, want no offset", p, p.Args)
	}
	c.breakTransport()
	again := h.resume(tok, "AAAAAAAAAAAAAAAAAAAAAA", "1")
	if again.sid == c.sid || again.pid != "" {
		t.Fatal("recovered with recovery off")
	}
	if h.metric("ws_sessions_kept") != 0 || h.recoveries("unknown") != 0 {
		t.Fatal("sessions or recoveries counted with recovery off")
	}
}

func TestDrainClosesEveryClientPacedWithoutDisconnect(t *testing.T) {
	h := newHarness(t, func(o *options) { o.actors.MaxConnectionsPerIP = -1 })
	var clients []*client
	for i := 0; i < 40; i++ { // more than one batch
		c := h.dial(token(t, "u"+strconv.Itoa(i), "w"))
		c.call("join_room", map[string]any{"room": "workspace:w:dashboard"})
		clients = append(clients, c)
	}
	h.srv.Drain()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	h.sys.Drain(ctx, 100*time.Millisecond)
	for _, c := range clients {
		c.expectClose(1001) // no DISCONNECT before it: the client reconnects by itself
	}
	h.eventually("connections 0", func() bool { return h.connections() == 0 })
	if h.metric("ws_sessions_kept") != 0 {
		t.Fatal("a node that shuts down keeps sessions it cannot serve")
	}
	if _, err := h.sys.Publish(t.Context(), "user:u0", "x", nil); err != actors.ErrShuttingDown {
		t.Fatalf("publish while draining: %v", err)
	}
}

// TestRecoveryOutlivesTheRoomsIdleStop: a room whose only member is away
// is not idle (the kept session is present in it, docs/PROTOCOL.md
// "Presence"); what is published to it meanwhile is kept for the member's
// recovery (never a silent gap), however short ROOM_IDLE_TIMEOUT is.
func TestRecoveryOutlivesTheRoomsIdleStop(t *testing.T) {
	h := newHarness(t, func(o *options) { o.actors.RoomIdleTimeout = 10 * time.Millisecond })
	const room = "workspace:w:approvals"
	tok := token(t, "u1", "w")
	c := h.dial(tok)
	c.call("join_room", map[string]any{"room": room})
	h.mustPublish(room, "n", 1)
	b := c.expectBroadcast("n")
	c.breakTransport()
	h.kept(1)
	if n := h.mustPublish(room, "n", 2); n != 0 {
		t.Fatalf("recipients %d", n)
	}
	again := h.resume(tok, c.pid, b.offset)
	if again.sid != c.sid {
		t.Fatal("not recovered")
	}
	if got := again.expectBroadcast("n"); string(got.data) != "2" {
		t.Fatalf("replay %s", got.data)
	}
}

// TestRecoveryRestoresExactlyTheSessionsRooms: the rooms of the session,
// no more: one it had left (even its user room) stays left.
func TestRecoveryRestoresExactlyTheSessionsRooms(t *testing.T) {
	h := newHarness(t)
	const room = "workspace:w:dashboard"
	tok := token(t, "u1", "w")
	c := h.dial(tok)
	c.call("join_room", map[string]any{"room": room})
	c.call("leave_room", map[string]any{"room": "user:u1"})
	c.breakTransport()
	h.kept(1)
	again := h.resume(tok, c.pid, "")
	if again.sid != c.sid {
		t.Fatal("not recovered")
	}
	if n := h.mustPublish("user:u1", "x", nil); n != 0 {
		t.Fatalf("back in the user room it had left (%d recipients)", n)
	}
	if n := h.mustPublish(room, "y", nil); n != 1 {
		t.Fatalf("not back in %s (%d recipients)", room, n)
	}
	if b := again.expectBroadcast("y"); b.event != "y" {
		t.Fatal("unreachable")
	}
}

// TestRecoveredConnectionLogsUnderItsSessionsSID: the transport's security
// events of a recovered connection name the sid its client knows.
func TestRecoveredConnectionLogsUnderItsSessionsSID(t *testing.T) {
	h := newHarness(t)
	tok := token(t, "u1", "w")
	c := h.dial(tok)
	c.breakTransport()
	h.kept(1)
	again := h.resume(tok, c.pid, "")
	if again.sid != c.sid {
		t.Fatal("not recovered")
	}
	again.writeText("42[oops")
	again.expectClose(1002)
	h.eventually("the security event", func() bool {
		return strings.Contains(h.logs.String(), `"event":"malformed_packet"`)
	})
	for _, line := range strings.Split(h.logs.String(), "\n") {
		if strings.Contains(line, `"event":"malformed_packet"`) && !strings.Contains(line, `"sid":"`+c.sid+`"`) {
			t.Fatalf("security event under another sid than the client's %q: %s", c.sid, line)
		}
	}
}

// TestRecoveriesCutShortLeaveNoTrace: clients that send a recovering
// CONNECT and drop at once end wherever their recovery was; the connection
// gauge returns to zero and the session can still be recovered. (Each
// client that got a fresh session meanwhile leaves a kept session too.)
func TestRecoveriesCutShortLeaveNoTrace(t *testing.T) {
	h := newHarness(t, func(o *options) { o.actors.MaxConnectionsPerIP = -1 })
	tok := token(t, "u1", "w")
	c := h.dial(tok)
	c.call("join_room", map[string]any{"room": "workspace:w:dashboard"})
	c.breakTransport()
	h.kept(1)
	connect, _ := json.Marshal(map[string]any{"token": tok, "pid": c.pid})
	for i := 0; i < 30; i++ {
		r := h.rawDial()
		r.writeText("40" + string(connect))
		r.breakTransport()
	}
	h.eventually("connections 0", func() bool { return h.connections() == 0 })
	// The session survives: a recovery cut short gives it back (its end may
	// still be on its way to the session, so ask until it is).
	h.eventually("the session recovered", func() bool {
		again := h.resume(tok, c.pid, "")
		recovered := again.sid == c.sid
		again.breakTransport()
		return recovered
	})
}
