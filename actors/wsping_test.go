package actors_test

import (
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestWebSocketPingGetsPong: RFC 6455 §5.5.2 requires a pong for every ping
// frame, with the ping's data; proxies and clients that ping at the
// WebSocket level drop a peer that does not answer. Before and after
// CONNECT (the handshake reader, then the read pump).
func TestWebSocketPingGetsPong(t *testing.T) {
	h := newHarness(t)
	u := "ws" + strings.TrimPrefix(h.url, "http") + "/socket.io/?EIO=4&transport=websocket"
	ws, _, err := websocket.DefaultDialer.Dial(u, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	pongs := make(chan string, 4)
	ws.SetPongHandler(func(data string) error { pongs <- data; return nil })
	texts := make(chan string, 16)
	go func() {
		defer close(texts)
		for {
			_, msg, err := ws.ReadMessage() // runs the pong handler
			if err != nil {
				return
			}
			texts <- string(msg)
		}
	}()
	expectPong := func(data string) {
		t.Helper()
		if err := ws.WriteControl(websocket.PingMessage, []byte(data), time.Now().Add(waitFor)); err != nil {
			t.Fatal(err)
		}
		select {
		case got := <-pongs:
			if got != data {
				t.Fatalf("pong carries %q, want %q", got, data)
			}
		case <-time.After(waitFor):
			t.Fatalf("no pong for ping %q", data)
		}
	}
	expectText := func(prefix string) {
		t.Helper()
		for {
			select {
			case msg, ok := <-texts:
				if !ok {
					t.Fatalf("socket closed waiting for %q", prefix)
				}
				if strings.HasPrefix(msg, prefix) {
					return
				}
			case <-time.After(waitFor):
				t.Fatalf("no %q", prefix)
			}
		}
	}
	expectText("0{") // OPEN
	expectPong("before connect")
	_ = ws.WriteMessage(websocket.TextMessage, []byte(`40{"token":"`+token(t, "u", "w")+`"}`))
	expectText("40{")
	expectPong("after connect")
	// The socket still works: an event gets its ack.
	_ = ws.WriteMessage(websocket.TextMessage, []byte(`421["join_room",{"room":"user:u"}]`))
	expectText("431")
}
