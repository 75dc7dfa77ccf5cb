package actors_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/hyvve/gateway/actors"
	"github.com/hyvve/gateway/messages"
	"github.com/hyvve/gateway/transport"
	"github.com/hyvve/gateway/transport/socketio"
)

func TestConnectAuthentication(t *testing.T) {
	h := newHarness(t)
	tests := []struct {
		name    string
		connect string
		header  string
		want    string
	}{
		{"no token", `40`, "", "AUTH_REQUIRED"},
		{"empty auth", `40{}`, "", "AUTH_REQUIRED"},
		{"bad signature", `40{"token":"` + token(t, "u", "w")[:40] + `x.y.z"}`, "", "INVALID_TOKEN"},
		{"garbage", `40{"token":"not-a-jwt"}`, "", "INVALID_TOKEN"},
		{"token not a string", `40{"token":42}`, "", "INVALID_TOKEN"},
		{"expired", `40{"token":"` + token(t, "u", "w", withTTL(-time.Minute)) + `"}`, "", "INVALID_TOKEN"},
		{"alg none", `40{"token":"eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJ1Iiwid29ya3NwYWNlSWQiOiJ3IiwiZXhwIjo5OTk5OTk5OTk5fQ."}`, "", "INVALID_TOKEN"},
		{"bad bearer header", `40`, "Bearer nope", "INVALID_TOKEN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var opts []dialOpt
			if tt.header != "" {
				opts = append(opts, withHeader("Authorization", tt.header))
			}
			c, code := h.dialRefused(tt.connect, opts...)
			if code != tt.want {
				t.Fatalf("code %s, want %s", code, tt.want)
			}
			// Like a Socket.IO client, leave on our own during the grace.
			_ = c.ws.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(1000, ""))
			c.expectClose(1008) // the server's answer keeps its reason: refused
		})
	}
	t.Run("server closes after the grace", func(t *testing.T) {
		c, _ := h.dialRefused(`40`)
		c.expectClose(1008)
	})
	h.eventually("no connection counted", func() bool { return h.connections() == 0 })

	t.Run("Authorization header", func(t *testing.T) {
		c := h.rawDial(withHeader("Authorization", "Bearer "+token(t, "u1", "w1")))
		c.writeText("40")
		if p := c.next(); p.Type != socketio.Connect {
			t.Fatalf("want CONNECT, got %+v", p)
		}
	})
	t.Run("OPEN packet", func(t *testing.T) {
		c := h.rawDial()
		if c.open["maxPayload"].(float64) != transport.DefaultMaxMessageBytes || c.open["pingInterval"].(float64) != 25000 ||
			c.open["pingTimeout"].(float64) != 20000 || c.open["sid"] == "" {
			t.Fatalf("OPEN %v", c.open)
		}
	})
}

func TestJoinLeaveAndRoomRules(t *testing.T) {
	h := newHarness(t)
	c := h.dial(token(t, "alice", "w1", withWorkspaces("w2")))
	// 200 bytes but only 110 characters: valid, and not alice's workspace.
	at200 := "workspace:" + strings.Repeat("é", 90) + ":dashboard"
	at201 := "workspace:x" + strings.Repeat("é", 90) + ":dashboard"
	tests := []struct {
		event string
		data  any
		want  map[string]any
	}{
		{"join_room", map[string]any{"room": "workspace:w1:dashboard"}, map[string]any{"joined": "workspace:w1:dashboard"}},
		{"join_room", map[string]any{"room": "workspace:w1:dashboard"}, map[string]any{"joined": "workspace:w1:dashboard"}},
		{"join_room", map[string]any{"room": "workspace:w1:approvals"}, map[string]any{"joined": "workspace:w1:approvals"}},
		{"join_room", map[string]any{"room": "workspace:w2:dashboard"}, map[string]any{"joined": "workspace:w2:dashboard"}},
		{"join_room", map[string]any{"room": "workspace:w3:dashboard"}, map[string]any{"error": "ACCESS_DENIED"}},
		{"join_room", map[string]any{"room": "user:alice"}, map[string]any{"joined": "user:alice"}},
		{"join_room", map[string]any{"room": "user:bob"}, map[string]any{"error": "ACCESS_DENIED"}},
		{"join_room", map[string]any{"room": "public:lobby"}, map[string]any{"error": "INVALID_ROOM"}},
		{"join_room", map[string]any{"room": "workspace:w1:other"}, map[string]any{"error": "INVALID_ROOM"}},
		{"join_room", map[string]any{"room": 7}, map[string]any{"error": "INVALID_ROOM"}},
		{"join_room", map[string]any{}, map[string]any{"error": "INVALID_ROOM"}},
		{"join_room", nil, map[string]any{"error": "INVALID_ROOM"}},
		{"join_room", map[string]any{"room": at200}, map[string]any{"error": "ACCESS_DENIED"}},
		{"join_room", map[string]any{"room": at201}, map[string]any{"error": "INVALID_ROOM"}},
		{"leave_room", map[string]any{"room": "workspace:w1:approvals"}, map[string]any{"left": "workspace:w1:approvals"}},
		{"leave_room", map[string]any{"room": "workspace:w1:approvals"}, map[string]any{"left": "workspace:w1:approvals"}},
		{"leave_room", map[string]any{"room": "bogus"}, map[string]any{"error": "INVALID_ROOM"}},
		{"no_such_event", map[string]any{}, map[string]any{"error": "UNKNOWN_EVENT"}},
	}
	for _, tt := range tests {
		got := c.call(tt.event, tt.data)
		if !equalJSON(got, tt.want) {
			t.Errorf("%s %v: got %v, want %v", tt.event, tt.data, got, tt.want)
		}
	}
	// Without an ack, errors arrive as `error` events.
	c.emit("join_room", map[string]any{"room": "workspace:w9:dashboard"}, false)
	if got := string(c.expectEvent("error")); got != `{"code":"ACCESS_DENIED"}` {
		t.Fatalf("error event %s", got)
	}
	c.emit("bogus", nil, false)
	if got := string(c.expectEvent("error")); got != `{"code":"UNKNOWN_EVENT"}` {
		t.Fatalf("error event %s", got)
	}
}

func TestPublishReachesExactlyTheRoomMembers(t *testing.T) {
	h := newHarness(t)
	a1 := h.dial(token(t, "a1", "A"))
	a2 := h.dial(token(t, "a2", "A"))
	b1 := h.dial(token(t, "b1", "B"))
	for _, c := range []*client{a1, a2} {
		c.call("join_room", map[string]any{"room": "workspace:A:dashboard"})
	}
	b1.call("join_room", map[string]any{"room": "workspace:B:dashboard"})
	a2.call("join_room", map[string]any{"room": "workspace:A:approvals"})

	if n := h.mustPublish("workspace:A:dashboard", "metrics.updated", map[string]any{"cpu": 0.5}); n != 2 {
		t.Fatalf("recipients %d, want 2", n)
	}
	if n := h.mustPublish("workspace:B:dashboard", "b.only", 1); n != 1 {
		t.Fatalf("recipients %d, want 1", n)
	}
	if n := h.mustPublish("workspace:A:approvals", "approval.requested", map[string]any{"id": "x"}); n != 1 {
		t.Fatalf("recipients %d, want 1", n)
	}
	if n := h.mustPublish("workspace:C:dashboard", "nobody", 1); n != 0 {
		t.Fatalf("recipients %d, want 0", n)
	}
	for _, c := range []*client{a1, a2} {
		if got := string(c.expectEvent("metrics.updated")); got != `{"cpu":0.5}` {
			t.Fatalf("data %s", got)
		}
	}
	a2.expectEvent("approval.requested")
	// b1 gets its own message first and nothing of workspace A's before it.
	b1.expectEvent("b.only")
	// a1 got nothing of B's nor of approvals: its next packet is the sentinel.
	h.mustPublish("workspace:A:dashboard", "sentinel", nil)
	a1.expectEvent("sentinel")
	a2.expectEvent("sentinel")

	// After leave_room, nothing more arrives.
	a1.call("leave_room", map[string]any{"room": "workspace:A:dashboard"})
	if n := h.mustPublish("workspace:A:dashboard", "after.leave", nil); n != 1 {
		t.Fatalf("recipients after leave %d, want 1", n)
	}
	a2.expectEvent("after.leave")
	h.mustPublish("user:a1", "sentinel", nil)
	a1.expectEvent("sentinel")
}

func TestUserRoomsAndStateSync(t *testing.T) {
	h := newHarness(t)
	tab1 := h.dial(token(t, "carol", "w"))
	tab2 := h.dial(token(t, "carol", "w"))
	other := h.dial(token(t, "dave", "w"))

	// Every connection is in its user room from CONNECT on.
	if n := h.mustPublish("user:carol", "notify", map[string]any{"n": 1}); n != 2 {
		t.Fatalf("recipients %d, want 2", n)
	}
	tab1.expectEvent("notify")
	tab2.expectEvent("notify")

	if got := tab1.call("state_sync", map[string]any{"state": map[string]any{"tab": "settings", "n": []int{1, 2}}}); !equalJSON(got, map[string]any{"ok": true}) {
		t.Fatalf("state_sync ack %v", got)
	}
	if got := string(tab2.expectEvent("state_sync")); got != `{"state":{"n":[1,2],"tab":"settings"}}` {
		t.Fatalf("state_sync relay %s", got)
	}
	// Never back to the sender, never to another user.
	h.mustPublish("user:carol", "sentinel", nil)
	tab1.expectEvent("sentinel")
	h.mustPublish("user:dave", "sentinel", nil)
	other.expectEvent("sentinel")

	if got := tab1.call("state_sync", map[string]any{"state": 1, "extra": true}); got["error"] != "VALIDATION_FAILED" {
		t.Fatalf("state_sync with unknown field: %v", got)
	}
}

func TestPublishAPIStatusCodes(t *testing.T) {
	h := newHarness(t, func(o *options) { o.transport.MaxMessageBytes = 1000 })
	tests := []struct {
		name, key, body string
		want            int
	}{
		{"no key", "", `{"room":"user:x","event":"e","data":1}`, http.StatusUnauthorized},
		{"wrong key", "nope", `{"room":"user:x","event":"e","data":1}`, http.StatusUnauthorized},
		{"bad json", publishKey, `{"room":`, http.StatusBadRequest},
		{"not an object", publishKey, `[1]`, http.StatusBadRequest},
		{"missing room", publishKey, `{"event":"e"}`, http.StatusBadRequest},
		{"bad room", publishKey, `{"room":"public:x","event":"e"}`, http.StatusBadRequest},
		{"room not a string", publishKey, `{"room":1,"event":"e"}`, http.StatusBadRequest},
		{"missing event", publishKey, `{"room":"user:x"}`, http.StatusBadRequest},
		{"reserved connect", publishKey, `{"room":"user:x","event":"connect"}`, http.StatusBadRequest},
		{"reserved disconnect", publishKey, `{"room":"user:x","event":"disconnect"}`, http.StatusBadRequest},
		{"reserved error", publishKey, `{"room":"user:x","event":"error"}`, http.StatusBadRequest},
		{"reserved token_expiring", publishKey, `{"room":"user:x","event":"token_expiring"}`, http.StatusBadRequest},
		{"too large", publishKey, `{"room":"user:x","event":"e","data":"` + strings.Repeat("x", 1000) + `"}`, http.StatusRequestEntityTooLarge},
		{"ok", publishKey, `{"room":"user:x","event":"e","data":{"a":[1,2]}}`, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := h.publish(tt.key, tt.body)
			if status != tt.want {
				t.Fatalf("status %d, want %d (%v)", status, tt.want, body)
			}
		})
	}

	off := newHarness(t, func(o *options) { o.transport.PublishAPIKey = "" })
	if status, _ := off.publish("anything", `{"room":"user:x","event":"e"}`); status != http.StatusNotFound {
		t.Fatalf("publish API without key: %d, want 404", status)
	}
}

func TestGaugesReturnToZeroAfterEveryKindOfEnding(t *testing.T) {
	h := newHarness(t, func(o *options) {
		o.transport.MaxMessageBytes = 500
		o.transport.PingInterval = 40 * time.Millisecond
		o.transport.PingTimeout = 40 * time.Millisecond
		o.actors.RoomIdleTimeout = 20 * time.Millisecond
		// Recoverable endings keep the session, and so its workspace, for
		// the window: a short one, so the gauges return to zero through the
		// session's expiry too.
		o.actors.RecoveryWindow = 30 * time.Millisecond
	})
	endings := map[string]func(c *client){
		"socket close":    func(c *client) { _ = c.ws.Close() },
		"disconnect":      func(c *client) { c.writeText("41"); c.expectClose(1000) },
		"engine.io close": func(c *client) { c.writeText("1"); c.expectClose(1000) },
		"malformed":       func(c *client) { c.writeText("42[oops"); c.expectClose(1002) },
		"too big":         func(c *client) { c.writeText("42" + strings.Repeat(" ", 600)); c.expectClose(1009) },
		"kick": func(c *client) {
			if !h.sys.Kick(c.sid, messages.CloseKicked) {
				t.Fatal("kick found no connection")
			}
			if p := c.next(); p.Type != socketio.Disconnect {
				t.Fatalf("want DISCONNECT, got %+v", p)
			}
			c.expectClose(1008)
		},
	}
	for name, end := range endings {
		t.Run(name, func(t *testing.T) {
			c := h.dial(token(t, "u", "w"))
			c.call("join_room", map[string]any{"room": "workspace:w:dashboard"})
			if h.connections() != 1 {
				t.Fatalf("connections %v, want 1", h.connections())
			}
			end(c)
			h.eventually("connections 0", func() bool { return h.connections() == 0 })
			h.eventually("rooms 0", func() bool { return h.metric("ws_rooms_active") == 0 })
			h.eventually("workspaces 0", func() bool { return h.metric("ws_workspaces_active") == 0 })
		})
	}
	t.Run("ping timeout", func(t *testing.T) {
		c := h.dial(token(t, "u", "w"), withoutPong())
		c.call("join_room", map[string]any{"room": "workspace:w:dashboard"})
		c.expectClose(1000)
		h.eventually("connections 0", func() bool { return h.connections() == 0 })
		h.eventually("rooms 0", func() bool { return h.metric("ws_rooms_active") == 0 })
	})
}

func TestPerIPConnectionLimit(t *testing.T) {
	h := newHarness(t, func(o *options) { o.actors.MaxConnectionsPerIP = 2 })
	tok := token(t, "u", "w")
	c1 := h.dial(tok)
	h.dial(tok)
	refused, code := h.dialRefused(`40{"token":"` + tok + `"}`)
	if code != "TOO_MANY_CONNECTIONS" {
		t.Fatalf("code %s", code)
	}
	_ = refused.ws.Close() // the client leaves during its grace: it never held a slot
	_ = c1.ws.Close()
	h.eventually("slot freed", func() bool { return h.connections() == 1 })
	h.dial(tok) // the freed slot is usable
	if _, code := h.dialRefused(`40{"token":"` + tok + `"}`); code != "TOO_MANY_CONNECTIONS" {
		t.Fatalf("code %s", code)
	}
	if h.metric("ws_security_events_total", "event", "too_many_connections") != 2 {
		t.Fatal("too_many_connections not counted")
	}
}

func TestRateLimit(t *testing.T) {
	h := newHarness(t, func(o *options) { o.actors.MaxMessagesPerMinute = 3 })
	c := h.dial(token(t, "u", "w"))
	for i := 0; i < 3; i++ {
		if got := c.call("join_room", map[string]any{"room": "user:u"}); got["joined"] != "user:u" {
			t.Fatalf("event %d: %v", i, got)
		}
	}
	if got := c.call("join_room", map[string]any{"room": "workspace:w:dashboard"}); got["error"] != "RATE_LIMITED" {
		t.Fatalf("4th event: %v", got)
	}
	c.emit("state_sync", map[string]any{"state": 1}, false)
	if got := string(c.expectEvent("error")); got != `{"code":"RATE_LIMITED"}` {
		t.Fatalf("error event %s", got)
	}
	// The limited join was not processed.
	if n := h.mustPublish("workspace:w:dashboard", "x", nil); n != 0 {
		t.Fatalf("rate-limited join was processed: %d recipients", n)
	}
}

func TestHostileInputClosesOnlyThatClient(t *testing.T) {
	h := newHarness(t, func(o *options) { o.transport.MaxMessageBytes = 2000 })
	bystander := h.dial(token(t, "b", "w"))
	bystander.call("join_room", map[string]any{"room": "workspace:w:dashboard"})
	closing := []struct {
		name, frame string
		code        int
	}{
		{"truncated json", `42["join_room",{"room":`, 1002},
		{"not an array", `42{"a":1}`, 1002},
		{"empty array", `42[]`, 1002},
		{"name not a string", `42[1,2]`, 1002},
		{"unknown packet type", `49[]`, 1002},
		{"unknown engine.io type", `9`, 1002},
		{"invalid utf-8", "42[\"a\",\"\xff\xfe\"]", 1002},
		{"deep nesting", `42["a",` + strings.Repeat("[", 500) + strings.Repeat("]", 500) + `]`, 1002},
		{"huge ack id", `4299999999999999999999["a"]`, 1002},
		{"over the size limit", `42["a","` + strings.Repeat("x", 2100) + `"]`, 1009},
	}
	for _, tt := range closing {
		t.Run(tt.name, func(t *testing.T) {
			c := h.dial(token(t, "x", "w"))
			c.writeText(tt.frame)
			c.expectClose(tt.code)
		})
	}
	t.Run("websocket protocol violation (reserved opcode)", func(t *testing.T) {
		c := h.dial(token(t, "x", "w"))
		before := h.metric("ws_security_events_total", "event", "malformed_packet")
		// FIN + opcode 3 (reserved), masked, empty: gorilla refuses it as a protocol error.
		if _, err := c.ws.NetConn().Write([]byte{0x83, 0x80, 0, 0, 0, 0}); err != nil {
			t.Fatal(err)
		}
		c.expectClose(1002)
		h.eventually("the violation counted as malformed", func() bool {
			return h.metric("ws_security_events_total", "event", "malformed_packet") > before
		})
	})
	t.Run("connect with broken json", func(t *testing.T) {
		c := h.rawDial()
		c.writeText(`40{"token":`)
		c.expectClose(1002)
	})
	t.Run("binary event refused, connection kept", func(t *testing.T) {
		c := h.dial(token(t, "x", "w"))
		c.writeText(`451-["a",{"_placeholder":true,"num":0}]`)
		if got := string(c.expectEvent("error")); got != `{"code":"BINARY_NOT_SUPPORTED"}` {
			t.Fatalf("error %s", got)
		}
		_ = c.ws.WriteMessage(websocket.BinaryMessage, []byte{1, 2, 3}) // its attachment: dropped quietly
		_ = c.ws.WriteMessage(websocket.BinaryMessage, []byte{4, 5, 6}) // a stray binary frame
		if got := string(c.expectEvent("error")); got != `{"code":"BINARY_NOT_SUPPORTED"}` {
			t.Fatalf("error %s", got)
		}
		c.writeText(`451-7["a",{"_placeholder":true,"num":0}]`)
		if p := c.next(); p.Type != socketio.Ack || p.AckID != 7 || string(p.Args[0]) != `{"error":"BINARY_NOT_SUPPORTED"}` {
			t.Fatalf("binary event with ack 7: %+v %s", p, p.Args)
		}
		_ = c.ws.WriteMessage(websocket.BinaryMessage, []byte{1})
		if got := c.call("join_room", map[string]any{"room": "user:x"}); got["joined"] != "user:x" {
			t.Fatalf("after binary: %v", got)
		}
	})
	t.Run("numbers where strings belong", func(t *testing.T) {
		c := h.dial(token(t, "x", "w"))
		if got := c.call("dashboard_action", map[string]any{"action": 5}); got["error"] != "VALIDATION_FAILED" || got["details"] == nil {
			t.Fatalf("%v", got)
		}
	})
	// The bystander saw none of it.
	h.mustPublish("workspace:w:dashboard", "sentinel", nil)
	bystander.expectEvent("sentinel")
	if h.metric("ws_security_events_total", "event", "malformed_packet") < 9 {
		t.Fatalf("malformed packets not counted: %v", h.metric("ws_security_events_total", "event", "malformed_packet"))
	}
}

func TestOriginCheck(t *testing.T) {
	h := newHarness(t)
	u := "ws" + strings.TrimPrefix(h.url, "http") + "/socket.io/?EIO=4&transport=websocket"
	_, resp, err := websocket.DefaultDialer.Dial(u, http.Header{"Origin": {"https://evil.example"}})
	if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("foreign origin: err %v resp %v", err, resp)
	}
	resp.Body.Close()
	ws, _, err := websocket.DefaultDialer.Dial(u, http.Header{"Origin": {"http://localhost:3000"}})
	if err != nil {
		t.Fatalf("allowed origin: %v", err)
	}
	ws.Close()
	for _, q := range []string{"EIO=3&transport=websocket", "EIO=4&transport=flashsocket", "EIO=4&transport=websocket"} {
		resp, err := http.Get(h.url + "/socket.io/?" + q)
		if err != nil || resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("%s: %v %v", q, err, resp)
		}
		resp.Body.Close()
	}
}

func TestDashboardActions(t *testing.T) {
	h := newHarness(t)
	member := h.dial(token(t, "m", "w"))
	other := h.dial(token(t, "o", "w", withRole("admin")))
	viewer := h.dial(token(t, "v", "w", withRole("viewer")))
	for _, c := range []*client{member, other, viewer} {
		c.call("join_room", map[string]any{"room": "workspace:w:dashboard"})
	}
	if got := member.call("dashboard_action", map[string]any{"action": "widget.move", "payload": "{}"}); !equalJSON(got, map[string]any{"ok": true, "action": "widget.move"}) {
		t.Fatalf("ack %v", got)
	}
	for _, c := range []*client{other, viewer} {
		if got := string(c.expectEvent("dashboard_action")); got != `{"userId":"m","action":"widget.move","payload":"{}"}` {
			t.Fatalf("broadcast %s", got)
		}
	}
	tests := []struct {
		c    *client
		data any
		want string
	}{
		{member, map[string]any{"action": "admin.reset"}, "PERMISSION_DENIED"},
		{viewer, map[string]any{"action": "widget.move"}, "PERMISSION_DENIED"},
		{member, map[string]any{"action": ""}, "VALIDATION_FAILED"},
		{member, map[string]any{"action": strings.Repeat("a", 101)}, "VALIDATION_FAILED"},
		{member, map[string]any{"action": "a", "payload": strings.Repeat("p", 10001)}, "VALIDATION_FAILED"},
		{member, map[string]any{"action": "a", "extra": 1}, "VALIDATION_FAILED"},
		{member, map[string]any{"action": "a", "payload": 3}, "VALIDATION_FAILED"},
	}
	for _, tt := range tests {
		if got := tt.c.call("dashboard_action", tt.data); got["error"] != tt.want {
			t.Errorf("%v: got %v, want %s", tt.data, got, tt.want)
		}
	}
	if got := other.call("dashboard_action", map[string]any{"action": "admin.reset"}); got["ok"] != true {
		t.Fatalf("admin action: %v", got)
	}
	// The sender never receives its own action.
	h.mustPublish("user:m", "sentinel", nil)
	member.expectEvent("dashboard_action") // the admin's
	member.expectEvent("sentinel")
}

func TestTokenLifecycle(t *testing.T) {
	h := newHarness(t, func(o *options) { o.actors.TokenExpiryWarning = time.Hour })
	t.Run("warning at once when less is left", func(t *testing.T) {
		c := h.dial(token(t, "u", "w", withTTL(30*time.Minute)))
		var body struct{ Exp int64 }
		if err := json.Unmarshal(c.expectEvent("token_expiring"), &body); err != nil || body.Exp < time.Now().Unix() {
			t.Fatalf("token_expiring %+v %v", body, err)
		}
	})
	t.Run("refresh with the same sub and workspace", func(t *testing.T) {
		c := h.dial(token(t, "u", "w", withTTL(30*time.Minute)))
		c.expectEvent("token_expiring")
		got := c.call("token_refresh", map[string]any{"token": token(t, "u", "w", withTTL(3*time.Hour))})
		if got["ok"] != true || got["exp"].(float64) < float64(time.Now().Add(2*time.Hour).Unix()) {
			t.Fatalf("refresh ack %v", got)
		}
	})
	for name, tok := range map[string]func() string{
		"another sub":       func() string { return token(t, "mallory", "w") },
		"another workspace": func() string { return token(t, "u", "w2") },
		"bad token":         func() string { return "x.y.z" },
	} {
		t.Run("refresh refused: "+name, func(t *testing.T) {
			c := h.dial(token(t, "u", "w", withTTL(3*time.Hour)))
			c.emit("token_refresh", map[string]any{"token": tok()}, true)
			if got := string(c.expectEvent("error")); got != `{"code":"INVALID_TOKEN"}` {
				t.Fatalf("error %s", got)
			}
			if p := c.next(); p.Type != socketio.Disconnect {
				t.Fatalf("want DISCONNECT, got %+v", p)
			}
			c.expectClose(1008)
		})
	}
	t.Run("expiry disconnects", func(t *testing.T) {
		c := h.dial(token(t, "u", "w", withTTL(1500*time.Millisecond)))
		c.expectEvent("token_expiring")
		if got := string(c.expectEvent("error")); got != `{"code":"TOKEN_EXPIRED"}` {
			t.Fatalf("error %s", got)
		}
		if p := c.next(); p.Type != socketio.Disconnect {
			t.Fatalf("want DISCONNECT, got %+v", p)
		}
		c.expectClose(1008)
	})
}

func TestRoomIdleTimeoutStopsEmptyRooms(t *testing.T) {
	h := newHarness(t, func(o *options) { o.actors.RoomIdleTimeout = 30 * time.Millisecond })
	c := h.dial(token(t, "u", "w"))
	c.call("join_room", map[string]any{"room": "workspace:w:dashboard"})
	c.call("join_room", map[string]any{"room": "workspace:w:approvals"})
	if got := h.metric("ws_rooms_active"); got != 3 {
		t.Fatalf("rooms %v, want 3 (two workspace rooms and the user room)", got)
	}
	c.call("leave_room", map[string]any{"room": "workspace:w:approvals"})
	h.eventually("the empty room stopped", func() bool { return h.metric("ws_rooms_active") == 2 })
	// Joining again after the stop spawns it anew and works.
	c.call("join_room", map[string]any{"room": "workspace:w:approvals"})
	if n := h.mustPublish("workspace:w:approvals", "again", nil); n != 1 {
		t.Fatalf("recipients %d", n)
	}
	c.expectEvent("again")
}

func TestShutdownClosesEveryClientWithoutDisconnect(t *testing.T) {
	h := newHarness(t)
	var clients []*client
	for i := 0; i < 5; i++ {
		c := h.dial(token(t, "u", "w"+string(rune('a'+i))))
		c.call("join_room", map[string]any{"room": "user:u"})
		clients = append(clients, c)
	}
	h.srv.Drain()
	resp, err := http.Get(h.url + "/readyz")
	if err != nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("readyz while draining: %v %v", err, resp)
	}
	resp.Body.Close()
	h.sys.Shutdown()
	for _, c := range clients {
		// docs/PROTOCOL.md "Close codes": no DISCONNECT before the 1001, so socket.io-client
		// sees "transport close", reconnects by itself and recovers.
		c.expectClose(1001)
	}
	if got := h.connections(); got != 0 {
		t.Fatalf("connections %v after shutdown", got)
	}
	if _, err := h.sys.Publish(t.Context(), "user:u", "x", nil); err != actors.ErrShuttingDown {
		t.Fatalf("publish after shutdown: %v", err)
	}
}

func equalJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

func TestRefreshDroppingAWorkspaceLeavesItsRooms(t *testing.T) {
	h := newHarness(t)
	c := h.dial(token(t, "u", "w1", withWorkspaces("w2")))
	joinAll("workspace:w2:dashboard", c)
	joinAll("workspace:w1:dashboard", c)
	id := c.emit("token_refresh", map[string]any{"token": token(t, "u", "w1")}, true) // no longer in w2
	var revoked map[string]string
	if err := json.Unmarshal(c.expectEvent("error"), &revoked); err != nil {
		t.Fatal(err)
	}
	if p := c.next(); p.Type != socketio.Ack || p.AckID != id || !strings.Contains(string(p.Args[0]), `"ok":true`) {
		t.Fatalf("refresh ack %+v %s", p, p.Args)
	}
	if revoked["code"] != "ACCESS_DENIED" || revoked["room"] != "workspace:w2:dashboard" {
		t.Fatalf("revocation %v", revoked)
	}
	h.eventually("left w2's room", func() bool {
		res, _ := h.sys.Publish(t.Context(), "workspace:w2:dashboard", "x", nil)
		return res.Recipients == 0
	})
	if n := h.mustPublish("workspace:w1:dashboard", "still", nil); n != 1 {
		t.Fatalf("own workspace room: %d recipients", n)
	}
}

// TestWebSocketOutlivesTheHTTPReadTimeout: the request's read deadline ends
// at the upgrade (net/http clears it on hijack); the heartbeat bounds the
// socket from then on.
func TestWebSocketOutlivesTheHTTPReadTimeout(t *testing.T) {
	h := newHarness(t, func(o *options) {
		o.transport.ReadTimeout = 50 * time.Millisecond
		o.transport.PingInterval = 40 * time.Millisecond
	})
	u := "ws" + strings.TrimPrefix(h.url, "http") + "/socket.io/?EIO=4&transport=websocket"
	ws, _, err := websocket.DefaultDialer.Dial(u, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	_ = ws.SetReadDeadline(time.Now().Add(waitFor))
	_ = ws.WriteMessage(websocket.TextMessage, []byte(`40{"token":"`+token(t, "u1", "w1")+`"}`))
	for pings := 0; pings < 3; { // three pings 40 ms apart: past the 50 ms read timeout
		_, msg, err := ws.ReadMessage()
		if err != nil {
			t.Fatalf("socket ended after %d pings: %v", pings, err)
		}
		if string(msg) == "2" {
			pings++
			_ = ws.WriteMessage(websocket.TextMessage, []byte("3"))
		}
	}
	_ = ws.WriteMessage(websocket.TextMessage, []byte(`421["join_room",{"room":"user:u1"}]`))
	for {
		_, msg, err := ws.ReadMessage()
		if err != nil {
			t.Fatalf("socket ended: %v", err)
		}
		if strings.HasPrefix(string(msg), "431") {
			return
		}
	}
}

// A leave sent right behind its join (no wait for the join's ack) leaves:
// it follows the join's path, so the room sees the join first.
func TestLeaveRightAfterJoinLeaves(t *testing.T) {
	h := newHarness(t)
	c := h.dial(token(t, "alice", "w1"))
	for i := range 20 {
		room := "workspace:w1:dashboard"
		if i%2 == 1 {
			room = "workspace:w1:approvals"
		}
		join := c.emit("join_room", map[string]any{"room": room}, true)
		leave := c.emit("leave_room", map[string]any{"room": room}, true)
		for _, want := range []int64{join, leave} {
			if p := c.next(); p.Type != socketio.Ack || p.AckID != want {
				t.Fatalf("round %d: %+v %s, want the ack of %d", i, p, p.Args, want)
			}
		}
		if n := h.mustPublish(room, "after.leave", nil); n != 0 {
			t.Fatalf("round %d: %d recipients after the leave, want 0", i, n)
		}
	}
}
