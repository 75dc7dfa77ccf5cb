package actors_test

import (
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestSocketWithoutConnectIsClosedAfterConnectTimeout: a socket that never
// sends CONNECT is closed after CONNECT_TIMEOUT, not after the heartbeat's
// PING_INTERVAL + PING_TIMEOUT (45 s by default).
func TestSocketWithoutConnectIsClosedAfterConnectTimeout(t *testing.T) {
	h := newHarness(t, func(o *options) { o.transport.ConnectTimeout = 100 * time.Millisecond })
	c := h.rawDial() // answers pings, never sends CONNECT
	c.expectClose(1002)
	h.eventually("handshake timeout counted", func() bool {
		return h.metric("ws_disconnects_total", "reason", "handshake_timeout") == 1
	})
}

// TestUpgradeHeadersAreNotKeptWhileWaitingForConnect: a socket waiting for
// its CONNECT keeps nothing of its upgrade request but the bearer token.
// Sockets with 12 KB of extra headers must cost what sockets without cost.
func TestUpgradeHeadersAreNotKeptWhileWaitingForConnect(t *testing.T) {
	h := newHarness(t, func(o *options) { o.actors.MaxConnectionsPerIP = 1 << 20 })
	u := "ws" + strings.TrimPrefix(h.url, "http") + "/socket.io/?EIO=4&transport=websocket"
	const n = 100
	open := func(pad string) uint64 {
		for range n {
			hdr := map[string][]string{}
			if pad != "" {
				hdr["X-Pad"] = []string{pad}
			}
			ws, _, err := websocket.DefaultDialer.Dial(u, hdr)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = ws.Close() })
			_ = ws.SetReadDeadline(time.Now().Add(waitFor))
			if _, _, err := ws.ReadMessage(); err != nil { // OPEN: the server holds the socket
				t.Fatal(err)
			}
		}
		var ms runtime.MemStats
		runtime.GC()
		runtime.GC()
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	base := open("")
	small := open("")
	padded := open(strings.Repeat("x", 12<<10))
	perSmall := (int64(small) - int64(base)) / n
	perPadded := (int64(padded) - int64(small)) / n
	t.Logf("live heap per waiting socket: %d B plain, %d B with 12 KB of headers", perSmall, perPadded)
	if perPadded-perSmall > 4<<10 {
		t.Fatalf("a waiting socket keeps %d B more with 12 KB of headers", perPadded-perSmall)
	}
}
