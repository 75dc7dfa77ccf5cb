package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

const roomR = "org:42:room.with*odd>chars and spaces"

func TestPublishReachesHostingNodesOnce(t *testing.T) {
	nodes := startMesh(t, 3)
	a, b, c := nodes[0], nodes[1], nodes[2]

	recA, recB, recC := newRecorder(100), newRecorder(2), newRecorder(3)
	unA, err := a.Subscribe(roomR, recA.deliver) // A hosts R too: must not get its own publish back
	if err != nil {
		t.Fatal(err)
	}
	defer unA()
	unB, err := b.Subscribe(roomR, recB.deliver)
	if err != nil {
		t.Fatal(err)
	}
	defer unB()
	unC, err := c.Subscribe(roomR, recC.deliver)
	if err != nil {
		t.Fatal(err)
	}
	waitHosts(t, a, roomR, "b", "c")

	data := json.RawMessage(`{"text":"hi","n":1}`)
	remote, partial, err := a.Publish(context.Background(), roomR, "message", data)
	if err != nil || partial || remote != 5 {
		t.Fatalf("Publish = %d, %v, %v; want 5, false, nil", remote, partial, err)
	}
	// A marker sent after the message arrives after it: whatever came before
	// it is all that came.
	if err := a.Broadcast(roomR, "marker", json.RawMessage(`1`)); err != nil {
		t.Fatal(err)
	}
	for name, r := range map[string]*recorder{"b": recB, "c": recC} {
		got := r.until(t, "marker")
		if len(got) != 1 {
			t.Fatalf("%s received %d messages, want exactly 1", name, len(got))
		}
		d := got[0]
		if d.Room != roomR || d.Event != "message" || string(d.Data) != string(data) || d.Origin != "a" {
			t.Fatalf("%s got %+v", name, d)
		}
	}
	recA.none(t)
	if v := testutil.ToFloat64(a.m.recvRoom); v != 0 {
		t.Fatalf("A received %v room messages, want 0 (no echo)", v)
	}

	// Unsubscribe (twice: idempotent): C gets nothing more, and A stops
	// waiting for C.
	unC()
	unC()
	waitHosts(t, a, roomR, "b")
	recvC := testutil.ToFloat64(c.m.recvRoom)
	start := time.Now()
	remote, partial, err = a.Publish(context.Background(), roomR, "message", data)
	if err != nil || partial || remote != 2 {
		t.Fatalf("after unsubscribe Publish = %d, %v, %v; want 2, false, nil", remote, partial, err)
	}
	if el := time.Since(start); el > a.cfg.RecipientsWait/2 {
		t.Fatalf("Publish took %v: still waiting for the unsubscribed node", el)
	}
	// Sentinel: C hosts S; A publishes S after R; once C has S, R would have
	// come before it.
	recS := newRecorder(0)
	unS, err := c.Subscribe("sentinel", recS.deliver)
	if err != nil {
		t.Fatal(err)
	}
	defer unS()
	waitHosts(t, a, "sentinel", "c")
	if err := a.Broadcast("sentinel", "marker", nil); err != nil {
		t.Fatal(err)
	}
	if got := recS.until(t, "marker"); len(got) != 0 {
		t.Fatalf("sentinel got %d extra", len(got))
	}
	recC.none(t)
	if v := testutil.ToFloat64(c.m.recvRoom); v != recvC+1 {
		t.Fatalf("C received %v room messages since unsubscribe, want only the sentinel", v-recvC)
	}
	recB.until(t, "message")
}

func TestNotHostingNodeReceivesNothing(t *testing.T) {
	nodes := startMesh(t, 3)
	a, b, c := nodes[0], nodes[1], nodes[2]
	recB, recS := newRecorder(1), newRecorder(0)
	unB, _ := b.Subscribe("only-b", recB.deliver)
	defer unB()
	unS, _ := c.Subscribe("sentinel", recS.deliver)
	defer unS()
	waitHosts(t, a, "only-b", "b")
	waitHosts(t, a, "sentinel", "c")
	for i := range 10 {
		if n, p, err := a.Publish(context.Background(), "only-b", "message", json.RawMessage(fmt.Sprint(i))); err != nil || p || n != 1 {
			t.Fatalf("Publish = %d %v %v", n, p, err)
		}
	}
	if err := a.Broadcast("sentinel", "marker", nil); err != nil {
		t.Fatal(err)
	}
	recS.until(t, "marker")
	if v := testutil.ToFloat64(c.m.recvRoom); v != 1 {
		t.Fatalf("C received %v room messages, want 1 (the sentinel)", v)
	}
	for i := range 10 {
		if d := recB.next(t); string(d.Data) != fmt.Sprint(i) {
			t.Fatalf("B message %d = %s (order)", i, d.Data)
		}
	}
}

func TestStoppedNodeExpiresAndRestartedNodeRejoins(t *testing.T) {
	nodes := startMesh(t, 3)
	a, b, c := nodes[0], nodes[1], nodes[2]
	recB, recC := newRecorder(2), newRecorder(3)
	if _, err := b.Subscribe(roomR, recB.deliver); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Subscribe(roomR, recC.deliver); err != nil {
		t.Fatal(err)
	}
	waitHosts(t, a, roomR, "b", "c")

	// C dies without saying goodbye.
	cClient, cRoute := c.ClientURL(), c.RouteURL()
	c.skipBye = true
	c.Close()
	a.cfg.RecipientsWait = 300 * time.Millisecond // safe: nothing else reads it concurrently
	start := time.Now()
	remote, partial, err := a.Publish(context.Background(), roomR, "message", nil)
	if err != nil || !partial || remote != 2 {
		t.Fatalf("Publish right after C died = %d, %v, %v; want 2, true, nil", remote, partial, err)
	}
	if el := time.Since(start); el < 250*time.Millisecond || el > 2*time.Second {
		t.Fatalf("partial Publish took %v, want about RecipientsWait", el)
	}
	if v := testutil.ToFloat64(a.m.missing); v != 1 {
		t.Fatalf("missing replies = %v, want 1", v)
	}
	// Its interest expires after ~3 heartbeats; then publishes are whole and quick.
	waitHosts(t, a, roomR, "b")
	waitFor(t, "C forgotten", func() bool { return len(a.Peers()) == 1 })
	remote, partial, err = a.Publish(context.Background(), roomR, "message", nil)
	if err != nil || partial || remote != 2 {
		t.Fatalf("Publish after expiry = %d, %v, %v; want 2, false, nil", remote, partial, err)
	}

	// C restarts on the same ports and rejoins.
	cfg := embedded("c", a.RouteURL(), b.RouteURL())
	cfg.Listen = "127.0.0.1:" + portOf(t, cClient)
	cfg.ClusterListen = "127.0.0.1:" + portOf(t, cRoute)
	c2 := startNode(t, cfg)
	waitMesh(t, a, b, c2)
	recC2 := newRecorder(4)
	if _, err := c2.Subscribe(roomR, recC2.deliver); err != nil {
		t.Fatal(err)
	}
	waitHosts(t, a, roomR, "b", "c")
	remote, partial, err = a.Publish(context.Background(), roomR, "again", json.RawMessage(`"x"`))
	if err != nil || partial || remote != 6 {
		t.Fatalf("Publish after restart = %d, %v, %v; want 6, false, nil", remote, partial, err)
	}
	if d := recC2.next(t); d.Event != "again" || d.Origin != "a" {
		t.Fatalf("restarted C got %+v", d)
	}

	// A clean Close says goodbye: B is forgotten at once, not after expiry.
	b.Close()
	waitHosts(t, a, roomR, "c")
	if v := testutil.ToFloat64(c2.m.peers); v > 2 {
		t.Fatalf("peers gauge = %v", v)
	}
}

func TestLateJoinerLearnsRoomsFromHeartbeat(t *testing.T) {
	a := startNode(t, embedded("a"))
	// Enough rooms (and long names) to need several heartbeat parts.
	const rooms = 3000
	for i := range rooms {
		if _, err := a.Subscribe(fmt.Sprintf("tenant:%04d:a-rather-long-room-name-to-fill-heartbeats", i), func(*Delivery) {}); err != nil {
			t.Fatal(err)
		}
	}
	// B joins after every announcement was sent: only heartbeats tell it.
	b := startNode(t, embedded("b", a.RouteURL()))
	waitMesh(t, a, b)
	waitFor(t, "B learns all of A's rooms", func() bool {
		b.reg.mu.RLock()
		defer b.reg.mu.RUnlock()
		p := b.reg.peers["a"]
		return p != nil && len(p.rooms) == rooms && len(b.reg.rooms) == rooms
	})
	if got := b.Hosts("tenant:2999:a-rather-long-room-name-to-fill-heartbeats"); len(got) != 1 || got[0] != "a" {
		t.Fatalf("Hosts = %v", got)
	}
}

func TestSeveralHandlersOfOneRoomSumTheirCounts(t *testing.T) {
	nodes := startMesh(t, 2)
	a, b := nodes[0], nodes[1]
	r1, r2 := newRecorder(2), newRecorder(5)
	un1, _ := b.Subscribe(roomR, r1.deliver)
	un2, _ := b.Subscribe(roomR, r2.deliver)
	waitHosts(t, a, roomR, "b")
	if n, p, err := a.Publish(context.Background(), roomR, "m", nil); err != nil || p || n != 7 {
		t.Fatalf("Publish = %d %v %v; want 7", n, p, err)
	}
	un1()
	if n, p, err := a.Publish(context.Background(), roomR, "m", nil); err != nil || p || n != 5 {
		t.Fatalf("Publish = %d %v %v; want 5", n, p, err)
	}
	if v := testutil.ToFloat64(b.m.subscriptions); v != 1 {
		t.Fatalf("subscriptions = %v", v)
	}
	un2()
	waitHosts(t, a, roomR)
	if v := testutil.ToFloat64(b.m.subscriptions); v != 0 {
		t.Fatalf("subscriptions = %v", v)
	}
}

func TestHandlerThatNeverRepliesMakesPartial(t *testing.T) {
	nodes := startMesh(t, 2)
	a, b := nodes[0], nodes[1]
	a.cfg.RecipientsWait = 200 * time.Millisecond
	r := newRecorder(-1)
	un, _ := b.Subscribe(roomR, r.deliver)
	defer un()
	waitHosts(t, a, roomR, "b")
	start := time.Now()
	n, p, err := a.Publish(context.Background(), roomR, "m", nil)
	if err != nil || !p || n != 0 {
		t.Fatalf("Publish = %d %v %v; want 0, partial", n, p, err)
	}
	if el := time.Since(start); el < 150*time.Millisecond {
		t.Fatalf("returned after %v, before RecipientsWait", el)
	}
	// A ctx ending first bounds the wait too.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	start = time.Now()
	if _, p, err := a.Publish(ctx, roomR, "m", nil); err != nil || !p {
		t.Fatalf("Publish(ctx) = %v %v", p, err)
	}
	if el := time.Since(start); el > 150*time.Millisecond {
		t.Fatalf("ctx did not bound the wait: %v", el)
	}
	if _, _, err := a.Publish(ctx, roomR, "m", nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Publish(done ctx) err = %v", err)
	}
	// A late Reply is harmless, and only the first one counts.
	d := r.next(t)
	d.Reply(1)
	d.Reply(1)
}

func TestExternalURL(t *testing.T) {
	s := plainServer(t, 0)
	n1 := startNode(t, fast(Config{URL: s.ClientURL(), NodeID: "n1"}))
	n2 := startNode(t, fast(Config{URL: s.ClientURL(), NodeID: "n2"}))
	if n1.ClientURL() != "" || n1.RouteURL() != "" {
		t.Fatal("external node reports an embedded server")
	}
	waitMesh(t, n1, n2)
	r := newRecorder(9)
	un, err := n2.Subscribe(roomR, r.deliver)
	if err != nil {
		t.Fatal(err)
	}
	defer un()
	waitHosts(t, n1, roomR, "n2")
	if n, p, err := n1.Publish(context.Background(), roomR, "ev", json.RawMessage(`[1,2]`)); err != nil || p || n != 9 {
		t.Fatalf("Publish = %d %v %v; want 9", n, p, err)
	}
	if d := r.next(t); d.Event != "ev" || string(d.Data) != "[1,2]" || d.Origin != "n1" {
		t.Fatalf("got %+v", d)
	}
}

func TestNATSOutage(t *testing.T) {
	s := plainServer(t, 0)
	url := s.ClientURL()
	port := portOf(t, url)
	strict := startNode(t, fast(Config{URL: url, NodeID: "strict", RequireForReady: true}))
	lax := startNode(t, fast(Config{URL: url, NodeID: "lax"}))
	waitMesh(t, strict, lax)
	r := newRecorder(1)
	if _, err := lax.Subscribe(roomR, r.deliver); err != nil {
		t.Fatal(err)
	}
	waitHosts(t, strict, roomR, "lax")
	if !strict.Ready() || !lax.Ready() {
		t.Fatal("not ready while connected")
	}
	if v := testutil.ToFloat64(strict.m.connected); v != 1 {
		t.Fatalf("connected gauge = %v", v)
	}

	s.Shutdown()
	s.WaitForShutdown()
	waitFor(t, "strict not ready", func() bool { return !strict.Ready() })
	if !lax.Ready() {
		t.Fatal("lax node not ready: NATS is not required for it")
	}
	waitFor(t, "connected gauge 0", func() bool { return testutil.ToFloat64(strict.m.connected) == 0 })
	if v := testutil.ToFloat64(strict.m.disconnects); v != 1 {
		t.Fatalf("disconnects = %v", v)
	}
	start := time.Now()
	if _, _, err := strict.Publish(context.Background(), roomR, "m", nil); !errors.Is(err, ErrDisconnected) {
		t.Fatalf("Publish during outage err = %v", err)
	}
	if err := strict.Broadcast(roomR, "m", nil); !errors.Is(err, ErrDisconnected) {
		t.Fatalf("Broadcast during outage err = %v", err)
	}
	if el := time.Since(start); el > 100*time.Millisecond {
		t.Fatalf("Publish during outage took %v", el)
	}
	// A node does not expire its peers for its own silence: stay down for
	// longer than the expiry period (3.5 heartbeats = 350ms).
	time.Sleep(500 * time.Millisecond)
	if h := strict.Hosts(roomR); len(h) != 1 {
		t.Fatalf("peers expired during the node's own outage: hosts = %v", h)
	}
	// Subscribing during the outage is fine: it takes effect on reconnect.
	r2 := newRecorder(1)
	if _, err := strict.Subscribe("back", r2.deliver); err != nil {
		t.Fatal(err)
	}

	// NATS comes back on the same port: both reconnect by themselves.
	plainServer(t, mustAtoi(t, port))
	waitFor(t, "strict ready again", strict.Ready)
	waitFor(t, "connected gauge 1", func() bool { return testutil.ToFloat64(strict.m.connected) == 1 })
	waitHosts(t, strict, roomR, "lax")
	waitHosts(t, lax, "back", "strict")
	if n, p, err := strict.Publish(context.Background(), roomR, "m", nil); err != nil || p || n != 1 {
		t.Fatalf("Publish after reconnect = %d %v %v", n, p, err)
	}
	if n, p, err := lax.Publish(context.Background(), "back", "m", nil); err != nil || p || n != 1 {
		t.Fatalf("Publish to a room subscribed during the outage = %d %v %v", n, p, err)
	}
}

func mustAtoi(t testing.TB, s string) int {
	t.Helper()
	var n int
	if _, err := fmt.Sscan(s, &n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestClosedNode(t *testing.T) {
	n := startNode(t, embedded("solo"))
	n.Close()
	n.Close()
	if n.Ready() {
		t.Fatal("closed node ready")
	}
	if _, err := n.Subscribe("r", func(*Delivery) {}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Subscribe err = %v", err)
	}
	if _, _, err := n.Publish(context.Background(), "r", "e", nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("Publish err = %v", err)
	}
	if err := n.Broadcast("r", "e", nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("Broadcast err = %v", err)
	}
}

func TestNilNodeIsSingleNode(t *testing.T) {
	n, err := Start(Config{}, nil, nil)
	if err != nil || n != nil {
		t.Fatalf("Start(disabled) = %v, %v", n, err)
	}
	un, err := n.Subscribe("r", func(*Delivery) {})
	if err != nil {
		t.Fatal(err)
	}
	un()
	if c, p, err := n.Publish(context.Background(), "r", "e", nil); c != 0 || p || err != nil {
		t.Fatal("nil Publish")
	}
	if n.Broadcast("r", "e", nil) != nil || !n.Ready() || n.ID() != "" || n.Hosts("r") != nil || n.Peers() != nil {
		t.Fatal("nil node")
	}
	n.Close()
}

func TestInvalidRoom(t *testing.T) {
	n := startNode(t, embedded("solo"))
	long := string(make([]byte, maxRoomLen+1))
	for _, room := range []string{"", long} {
		if _, err := n.Subscribe(room, func(*Delivery) {}); !errors.Is(err, ErrInvalidRoom) {
			t.Fatalf("Subscribe err = %v", err)
		}
		if _, _, err := n.Publish(context.Background(), room, "e", nil); !errors.Is(err, ErrInvalidRoom) {
			t.Fatalf("Publish err = %v", err)
		}
	}
	// No other node: Publish returns at once with 0.
	if c, p, err := n.Publish(context.Background(), "r", "e", nil); c != 0 || p || err != nil {
		t.Fatalf("Publish alone = %d %v %v", c, p, err)
	}
}

// TestSharedRouteList is the deployment recipe: every node gets the same
// NATS_ROUTES, its own route address included.
func TestSharedRouteList(t *testing.T) {
	var routes, listens []string
	for range 3 {
		routes = append(routes, "127.0.0.1:"+freePort(t))
		listens = append(listens, "127.0.0.1:"+freePort(t))
	}
	var nodes []*Node
	for i := range 3 {
		cfg := fast(Config{NodeID: fmt.Sprint("n", i), Listen: listens[i], ClusterListen: routes[i], Routes: routes})
		nodes = append(nodes, startNode(t, cfg))
	}
	waitMesh(t, nodes...)
	r := newRecorder(1)
	if _, err := nodes[2].Subscribe(roomR, r.deliver); err != nil {
		t.Fatal(err)
	}
	waitHosts(t, nodes[0], roomR, "n2")
	if n, p, err := nodes[0].Publish(context.Background(), roomR, "m", nil); err != nil || p || n != 1 {
		t.Fatalf("Publish = %d %v %v", n, p, err)
	}
}

// freePort returns a port that was free a moment ago.
func freePort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return portOf(t, "tcp://"+l.Addr().String())
}
