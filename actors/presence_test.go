package actors_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/hyvve/gateway/transport/socketio"
)

// presenceOf asks, as client c, who is present in room; it returns the ack.
func (c *client) presenceOf(room string) map[string]any {
	c.t.Helper()
	return c.call("presence", map[string]any{"room": room})
}

// users renders a presence answer's users as "id:sessions" strings.
func users(ack map[string]any) []string {
	var out []string
	list, _ := ack["users"].([]any)
	for _, u := range list {
		m := u.(map[string]any)
		out = append(out, m["userId"].(string)+":"+json.Number(jsonNum(m["sessions"])).String())
	}
	return out
}

func jsonNum(v any) string { b, _ := json.Marshal(v); return string(b) }

// expectPresence returns the next presence event's name and user.
func (c *client) expectPresence() (string, string) {
	c.t.Helper()
	p := c.next()
	if p.Type != socketio.Event || (p.Event != "presence_join" && p.Event != "presence_leave") {
		c.t.Fatalf("want a presence event, got %+v %s", p, p.Args)
	}
	var body struct{ Room, UserID string }
	if len(p.Args) != 1 || json.Unmarshal(p.Args[0], &body) != nil || body.Room == "" {
		c.t.Fatalf("presence event args %s (no offset, one object)", p.Args)
	}
	return p.Event, body.UserID
}

// sentinel publishes and waits for it on every client: whatever c received
// before it, it received in full.
func (h *harness) sentinel(room string, cs ...*client) {
	h.t.Helper()
	h.mustPublish(room, "sentinel", nil)
	for _, c := range cs {
		for {
			p := c.next()
			if p.Type == socketio.Event && p.Event == "sentinel" {
				break
			}
			if p.Type == socketio.Event && (p.Event == "presence_join" || p.Event == "presence_leave") {
				c.t.Fatalf("unexpected %s %s", p.Event, p.Args)
			}
		}
	}
}

func TestPresenceTabsJoinLeaveAndSelf(t *testing.T) {
	h := newHarness(t)
	const room = "workspace:w:dashboard"
	watcher := h.dial(token(t, "w1", "w"))
	watcher.presence = true
	watcher.call("join_room", map[string]any{"room": room})

	tab1 := h.dial(token(t, "alice", "w"))
	tab1.presence = true
	tab1.call("join_room", map[string]any{"room": room})
	if ev, u := watcher.expectPresence(); ev != "presence_join" || u != "alice" {
		t.Fatalf("%s %s", ev, u)
	}
	tab2 := h.dial(token(t, "alice", "w"))
	tab2.presence = true
	tab2.call("join_room", map[string]any{"room": room})
	// The second tab is no join; alice hears nothing about herself, and
	// does hear of w1 (who was there first: no event, she asks).
	got := tab1.presenceOf(room)
	if want := []string{"alice:2", "w1:1"}; !equal(users(got), want) || got["total"].(float64) != 2 || got["room"] != room {
		t.Fatalf("presence %v, want %v", got, want)
	}
	h.sentinel(room, watcher, tab1, tab2)

	tab1.writeText("41") // a client's own disconnect: not recoverable
	tab1.expectClose(1000)
	h.sentinel(room, watcher, tab2) // one tab left: still present
	tab2.writeText("41")
	if ev, u := watcher.expectPresence(); ev != "presence_leave" || u != "alice" {
		t.Fatalf("%s %s", ev, u)
	}
	if got := users(watcher.presenceOf(room)); !equal(got, []string{"w1:1"}) {
		t.Fatalf("after leave: %v", got)
	}
	// leave_room is a leave too.
	bob := h.dial(token(t, "bob", "w"))
	bob.call("join_room", map[string]any{"room": room})
	if ev, u := watcher.expectPresence(); ev != "presence_join" || u != "bob" {
		t.Fatalf("%s %s", ev, u)
	}
	bob.call("leave_room", map[string]any{"room": room})
	if ev, u := watcher.expectPresence(); ev != "presence_leave" || u != "bob" {
		t.Fatalf("%s %s", ev, u)
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestPresenceUserRoomsAndAccess(t *testing.T) {
	h := newHarness(t, func(o *options) { o.actors.PresenceMaxUsers = 2 })
	a1, a2 := h.dial(token(t, "alice", "w")), h.dial(token(t, "alice", "w"))
	a1.presence, a2.presence = true, true
	// user rooms: counted, never evented.
	h.eventually("both tabs in user:alice", func() bool {
		return equal(users(a1.presenceOf("user:alice")), []string{"alice:2"})
	})
	h.mustPublish("user:alice", "sentinel", nil)
	a1.expectEvent("sentinel")
	a2.expectEvent("sentinel")
	// errors as join_room's.
	if got := a1.presenceOf("user:bob"); got["error"] != "ACCESS_DENIED" {
		t.Fatalf("another user's room: %v", got)
	}
	if got := a1.presenceOf("workspace:other:dashboard"); got["error"] != "ACCESS_DENIED" {
		t.Fatalf("another workspace: %v", got)
	}
	if got := a1.presenceOf("lobby"); got["error"] != "INVALID_ROOM" {
		t.Fatalf("bad room: %v", got)
	}
	// not in the room: allowed; nobody there.
	if got := a1.presenceOf("workspace:w:approvals"); got["total"].(float64) != 0 || len(got["users"].([]any)) != 0 {
		t.Fatalf("empty room: %v", got)
	}
	// truncation past PRESENCE_MAX_USERS.
	const room = "workspace:w:approvals"
	for _, u := range []string{"c", "b", "a"} {
		h.dial(token(t, u, "w")).call("join_room", map[string]any{"room": room})
	}
	got := a1.presenceOf(room)
	if !equal(users(got), []string{"a:1", "b:1"}) || got["total"].(float64) != 3 || got["truncated"] != true {
		t.Fatalf("truncated: %v", got)
	}
	// GET /v1/presence: the same body, behind the publish key.
	status, body := getPresence(t, h, publishKey, room)
	if status != http.StatusOK || body != `{"room":"workspace:w:approvals","users":[{"userId":"a","sessions":1},{"userId":"b","sessions":1}],"total":3,"truncated":true}` {
		t.Fatalf("GET /v1/presence: %d %s", status, body)
	}
	if status, _ := getPresence(t, h, "wrong", room); status != http.StatusUnauthorized {
		t.Fatalf("wrong key: %d", status)
	}
	if status, _ := getPresence(t, h, publishKey, "lobby"); status != http.StatusBadRequest {
		t.Fatalf("bad room: %d", status)
	}
	// a backend cannot fake presence events.
	if status, _ := h.publish(publishKey, `{"room":"`+room+`","event":"presence_join","data":{}}`); status != http.StatusBadRequest {
		t.Fatalf("publish presence_join: %d", status)
	}
}

func getPresence(t *testing.T, h *harness, key, room string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, h.url+"/v1/presence?room="+url.QueryEscape(room), nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestPresenceAcrossRecovery: a transport break inside the window is
// neither a leave nor a join; the window running out is a leave.
func TestPresenceAcrossRecovery(t *testing.T) {
	h := newHarness(t, func(o *options) { o.actors.RecoveryWindow = 500 * time.Millisecond })
	const room = "workspace:w:dashboard"
	watcher := h.dial(token(t, "w1", "w"))
	watcher.presence = true
	watcher.call("join_room", map[string]any{"room": room})
	tok := token(t, "alice", "w")
	c := h.dial(tok)
	c.call("join_room", map[string]any{"room": room})
	if ev, u := watcher.expectPresence(); ev != "presence_join" || u != "alice" {
		t.Fatalf("%s %s", ev, u)
	}
	c.breakTransport()
	h.kept(1)
	if got := users(watcher.presenceOf(room)); !equal(got, []string{"alice:1", "w1:1"}) {
		t.Fatalf("kept session not present: %v", got)
	}
	again := h.resume(tok, c.pid, "")
	if again.sid != c.sid {
		t.Fatal("not recovered")
	}
	h.kept(0)
	h.sentinel(room, watcher) // no leave, no join
	if got := users(watcher.presenceOf(room)); !equal(got, []string{"alice:1", "w1:1"}) {
		t.Fatalf("after recovery: %v", got)
	}
	// Broken again, and not recovered: a leave when the window ends.
	again.breakTransport()
	h.kept(1)
	if ev, u := watcher.expectPresence(); ev != "presence_leave" || u != "alice" {
		t.Fatalf("%s %s", ev, u)
	}
	h.kept(0)
}

// TestPresenceAcrossThreeNodes: the same answer on every node; a join on
// one node is told on the others; a node that goes away takes its users
// with it when their window ends.
func TestPresenceAcrossThreeNodes(t *testing.T) {
	start := func(id string, routes ...string) *harness {
		h := startNode(t, id, routes...)
		return h
	}
	a := start("a")
	b := start("b", a.node.RouteURL())
	c := start("c", a.node.RouteURL(), b.node.RouteURL())
	waitMesh(t, a, b, c)
	const room = "workspace:w:dashboard"
	wa := a.dial(token(t, "wa", "w"))
	wa.presence = true
	wa.call("join_room", map[string]any{"room": room})
	waitHosts(t, room, []string{"a"}, a, b, c)

	onB := b.dial(token(t, "bob", "w"))
	onB.call("join_room", map[string]any{"room": room})
	if ev, u := wa.expectPresence(); ev != "presence_join" || u != "bob" {
		t.Fatalf("%s %s", ev, u)
	}
	onC1, onC2 := c.dial(token(t, "carol", "w")), c.dial(token(t, "carol", "w"))
	joinAll(room, onC1, onC2)
	if ev, u := wa.expectPresence(); ev != "presence_join" || u != "carol" {
		t.Fatalf("%s %s", ev, u)
	}
	bobTab2 := a.dial(token(t, "bob", "w")) // bob on a second node: no join
	bobTab2.call("join_room", map[string]any{"room": room})
	want := []string{"bob:2", "carol:2", "wa:1"}
	for _, h := range []*harness{a, b, c} {
		h.eventually("the same presence on "+h.node.ID(), func() bool {
			_, body := getPresence(t, h, publishKey, room)
			var ack map[string]any
			_ = json.Unmarshal([]byte(body), &ack)
			return equal(users(ack), want)
		})
	}
	// A node with no member of the room answers too.
	lone := startNode(t, "d", a.node.RouteURL())
	waitMesh(t, a, b, c, lone)
	_, body := getPresence(t, lone, publishKey, room)
	var ack map[string]any
	_ = json.Unmarshal([]byte(body), &ack)
	if !equal(users(ack), want) {
		t.Fatalf("a node not hosting the room: %s", body)
	}

	bobTab2.writeText("41") // bob is still on b: no leave
	c.stop()                // carol's node goes away: she leaves when her window ends
	if ev, u := wa.expectPresence(); ev != "presence_leave" || u != "carol" {
		t.Fatalf("%s %s", ev, u)
	}
	onB.writeText("41")
	if ev, u := wa.expectPresence(); ev != "presence_leave" || u != "bob" {
		t.Fatalf("%s %s", ev, u)
	}
}

// TestPresenceClusterCost measures the clustered mechanism: NATS room
// messages per join and leave, and how long a query takes on a node that
// hosts the room (answered from its own view) and on one that does not
// (the room is started there and asks the others). Logged for the README.
func TestPresenceClusterCost(t *testing.T) {
	a := startNode(t, "a")
	b := startNode(t, "b", a.node.RouteURL())
	c := startNode(t, "c", a.node.RouteURL(), b.node.RouteURL())
	waitMesh(t, a, b, c)
	const room = "workspace:w:approvals"
	sent := func() float64 { return a.metric("cluster_messages_sent_total", "kind", "room") }
	first := b.dial(token(t, "bob", "w"))
	first.call("join_room", map[string]any{"room": room})
	waitHosts(t, room, []string{"b"}, a, b, c)

	const n = 8 // MAX_CONNECTIONS_PER_IP is 10
	clients := make([]*client, n)
	for i := range clients {
		clients[i] = a.dial(token(t, "u"+string(rune('A'+i%26))+string(rune('a'+i/26)), "w"))
	}
	before := sent()
	for _, cl := range clients {
		cl.call("join_room", map[string]any{"room": room})
	}
	for _, cl := range clients {
		cl.call("leave_room", map[string]any{"room": room})
	}
	perChange := (sent() - before) / (2 * n)
	if perChange < 1 || perChange > 1.2 {
		t.Fatalf("%.2f NATS room messages per join or leave, want 1", perChange)
	}
	// The leaves reach b's view over NATS after their acks: wait for it.
	b.eventually("the leaves seen on b", func() bool {
		_, body := getPresence(t, b, publishKey, room)
		return body == `{"room":"workspace:w:approvals","users":[{"userId":"bob","sessions":1}],"total":1}`
	})
	measure := func(h *harness) time.Duration {
		start := time.Now()
		status, body := getPresence(t, h, publishKey, room)
		if status != http.StatusOK || body != `{"room":"workspace:w:approvals","users":[{"userId":"bob","sessions":1}],"total":1}` {
			t.Fatalf("%d %s", status, body)
		}
		return time.Since(start)
	}
	hosted := measure(b)
	unhosted := measure(c) // c starts the room and asks a and b
	again := measure(c)    // now hosted on c
	t.Logf("presence, 3 nodes: %.2f NATS room messages per join or leave; GET /v1/presence %v on a hosting node, %v on a node that did not host the room (first query), %v after",
		perChange, hosted, unhosted, again)
}
