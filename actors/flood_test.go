package actors_test

import (
	"log/slog"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/hyvve/gateway/supervision"
)

// TestFloodIntoAStalledConnectionDropsTheClient: a connection actor is
// stalled and its client keeps sending. What waits for the actor is
// bounded: the client is dropped as abusive (close 1008, a security event)
// while the actor still sleeps, the live heap does not take the flood, and
// another client of the same room is served throughout.
func TestFloodIntoAStalledConnectionDropsTheClient(t *testing.T) {
	h := newHarness(t, withFaults, func(o *options) { o.logLevel = slog.LevelInfo })
	const room = "workspace:w:dashboard"
	flooder, other := h.dial(token(t, "f", "w")), h.dial(token(t, "o", "w"))
	joinAll(room, flooder, other)
	if n := h.inject(supervision.KindConnection, flooder.sid, supervision.FaultStall, 4*time.Second); n != 1 {
		t.Fatalf("injected %d", n)
	}
	before := liveHeap()

	// 20,000 events of 2 KB: 40 MB the mailbox of a stalled actor would hold.
	frame := []byte(`42["state_sync",{"state":"` + strings.Repeat("x", 2000) + `"}]`)
	const events = 20000
	sent := make(chan int, 1)
	go func() {
		n := 0
		flooder.mu.Lock()
		defer flooder.mu.Unlock()
		for ; n < events; n++ {
			if flooder.ws.WriteMessage(websocket.TextMessage, frame) != nil {
				break // dropped: the gateway closed the socket
			}
		}
		sent <- n
	}()
	var n int
	select {
	case n = <-sent:
	case <-time.After(waitFor):
		t.Fatal("the flood neither ended nor was cut off")
	}
	after := liveHeap()
	growth := int64(after) - int64(before)
	t.Logf("flood: %d events written; live heap %d → %d (%+d bytes) while the actor is stalled", n, before, after, growth)
	if growth > 8<<20 {
		t.Fatalf("live heap grew %d bytes while a stalled actor's client flooded", growth)
	}
	flooder.expectClose(1008)
	h.eventually("the flood disconnect counted", func() bool {
		return h.metric("ws_disconnects_total", "reason", "event_flood") == 1
	})
	if !strings.Contains(h.logs.String(), `"event":"rate_limit_exceeded"`) {
		t.Fatal("no security event for the flood")
	}
	// The other member is served while the flooder's actor still sleeps.
	h.mustPublish(room, "live", nil)
	other.expectEvent("live")
	if got := other.call("join_room", map[string]any{"room": "user:o"}); got["joined"] != "user:o" {
		t.Fatalf("join: %v", got)
	}
}

// liveHeap is the heap in use after a full collection.
func liveHeap() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}
