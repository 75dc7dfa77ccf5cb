package actors_test

import (
	"log/slog"
	"runtime"
	"strings"
	"testing"

	"github.com/gorilla/websocket"
)

// TestUserRoomMemoryStaysFlatUnderReconnects: while one tab of a user stays
// open (so user:{sub} lives on), the user connects and closes 1,000 times.
// Every ended connection must be forgotten: the live heap may not grow with
// the number of cycles.
func TestUserRoomMemoryStaysFlatUnderReconnects(t *testing.T) {
	if testing.Short() {
		t.Skip("1,000 real connections")
	}
	h := newHarness(t, func(o *options) {
		o.actors.MaxConnectionsPerIP = 1 << 20
		o.logLevel = slog.LevelInfo // the test's log buffer would grow per cycle
	})
	tok := token(t, "u", "w")
	h.dial(tok) // the tab that stays open
	u := "ws" + strings.TrimPrefix(h.url, "http") + "/socket.io/?EIO=4&transport=websocket"
	cycle := func() {
		// A bare client, so the test itself keeps nothing per cycle.
		ws, _, err := websocket.DefaultDialer.Dial(u, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer ws.Close()
		_ = ws.WriteMessage(websocket.TextMessage, []byte(`40{"token":"`+tok+`"}`))
		// The ack of this join comes after the CONNECT's own join of
		// user:u has reached the connection: it is a member when it leaves.
		_ = ws.WriteMessage(websocket.TextMessage, []byte(`421["join_room",{"room":"user:u"}]`))
		for {
			_, msg, err := ws.ReadMessage()
			if err != nil {
				t.Fatalf("cycle: %v", err)
			}
			if strings.HasPrefix(string(msg), "431") {
				return
			}
		}
	}
	settle := func() uint64 {
		h.eventually("only the open tab left", func() bool { return h.connections() == 1 })
		var ms runtime.MemStats
		runtime.GC()
		runtime.GC()
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	for range 50 { // warm pools and maps up
		cycle()
	}
	before := settle()
	const cycles = 1000
	for range cycles {
		cycle()
	}
	after := settle()
	growth := int64(after) - int64(before)
	t.Logf("live heap %d → %d bytes: %+d bytes over %d cycles (%.0f B/cycle)", before, after, growth, cycles, float64(growth)/cycles)
	if growth > 2<<20 {
		t.Fatalf("live heap grew %d bytes over %d reconnects of one user", growth, cycles)
	}
}
