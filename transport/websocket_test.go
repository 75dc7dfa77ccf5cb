package transport

// The WebSocket carrier (Conn) against the fake gateway of polling_test.go:
// what it reads, how it parks, how its heartbeat and handshake limit end it.
// Real sockets on 127.0.0.1, real tokens, no actors.

import (
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/hyvve/gateway/messages"
	"github.com/hyvve/gateway/transport/socketio"
)

// wsClient is a raw Engine.IO client on a gorilla WebSocket.
type wsClient struct {
	t  *testing.T
	ws *websocket.Conn
}

func (h *pollHarness) dialWS(header http.Header) *wsClient {
	h.t.Helper()
	u := "ws" + strings.TrimPrefix(h.http.URL, "http") + "/socket.io/?EIO=4&transport=websocket"
	ws, _, err := websocket.DefaultDialer.Dial(u, header)
	if err != nil {
		h.t.Fatalf("dial: %v", err)
	}
	h.t.Cleanup(func() { ws.Close() })
	c := &wsClient{t: h.t, ws: ws}
	if open := c.read(); !strings.HasPrefix(open, "0{") {
		h.t.Fatalf("first frame %q, want OPEN", open)
	}
	return c
}

// connectWS dials and authenticates; the fake gateway accepts.
func (h *pollHarness) connectWS() (*wsClient, *fakeSession) {
	h.t.Helper()
	c := h.dialWS(nil)
	c.write(`40{"token":"` + h.token("alice") + `"}`)
	var s *fakeSession
	select {
	case s = <-h.gw.sessions:
	case <-time.After(waitFor):
		h.t.Fatal("the gateway was never handed the client")
	}
	if got := c.read(); !strings.HasPrefix(got, "40{") {
		h.t.Fatalf("CONNECT answer %q", got)
	}
	return c, s
}

func (c *wsClient) write(text string) {
	c.t.Helper()
	if err := c.ws.WriteMessage(websocket.TextMessage, []byte(text)); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// read returns the next text frame that is not a ping.
func (c *wsClient) read() string {
	c.t.Helper()
	for {
		_ = c.ws.SetReadDeadline(time.Now().Add(waitFor))
		_, b, err := c.ws.ReadMessage()
		if err != nil {
			c.t.Fatalf("read: %v", err)
		}
		if string(b) != "2" {
			return string(b)
		}
	}
}

// closeCode reads until the server closes and returns its close code.
func (c *wsClient) closeCode() int {
	c.t.Helper()
	for {
		_ = c.ws.SetReadDeadline(time.Now().Add(waitFor))
		if _, _, err := c.ws.ReadMessage(); err != nil {
			if ce, ok := err.(*websocket.CloseError); ok {
				return ce.Code
			}
			c.t.Fatalf("read ended without a close frame: %v", err)
		}
	}
}

func TestWebSocketFramesReadTogetherAreAllHandled(t *testing.T) {
	h := newPollHarness(t, Config{})
	c, s := h.connectWS()
	for round := range 3 {
		var frames []string
		for i := range 3 {
			frames = append(frames, fmt.Sprintf(`42%d["e",%d]`, round*3+i, i))
		}
		// One TCP write: the pump must handle every frame gorilla buffered,
		// not park with frames still in its buffer.
		var raw []byte
		for _, f := range frames {
			raw = append(raw, maskedTextFrame(f)...)
		}
		if _, err := c.ws.NetConn().Write(raw); err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			if ev := s.nextEvent(t); ev.AckID != int64(round*3+i) {
				t.Fatalf("round %d: event %d has ack id %d", round, i, ev.AckID)
			}
		}
	}
}

// maskedTextFrame frames a short client text message by hand (RFC 6455).
func maskedTextFrame(text string) []byte {
	mask := [4]byte{1, 2, 3, 4}
	b := []byte{0x81, 0x80 | byte(len(text))}
	b = append(b, mask[:]...)
	for i := range len(text) {
		b = append(b, text[i]^mask[i%4])
	}
	return b
}

func TestWebSocketIdleSocketsHoldNoGoroutine(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the poller is Linux-only (epoll); elsewhere each socket keeps a read pump")
	}
	const clients = 30
	h := newPollHarness(t, Config{})
	base := runtime.NumGoroutine()
	var sessions []*fakeSession
	for range clients {
		_, s := h.connectWS()
		sessions = append(sessions, s)
	}
	// The test's own clients hold no reader goroutine either (they read on
	// demand): what is left is the gateway's poller and a few short-lived ones.
	waitUntil(t, "idle sockets parked", func() bool { return runtime.NumGoroutine() <= base+clients/3 })
	for _, s := range sessions {
		s.client.Enqueue(socketio.AppendEvent(nil, "tick", []byte(`1`)))
	}
	waitUntil(t, "sockets parked again after a write", func() bool { return runtime.NumGoroutine() <= base+clients/3 })
}

func TestWebSocketKeepaliveDropsASilentClient(t *testing.T) {
	h := newPollHarness(t, Config{PingInterval: 100 * time.Millisecond, PingTimeout: 200 * time.Millisecond})
	c, s := h.connectWS() // answers no ping
	if code := c.closeCode(); code != 1000 {
		t.Fatalf("close code %d, want 1000", code)
	}
	s.waitClosed(t, messages.ClosePingTimeout)
}

func TestWebSocketPongsDoNotKeepAnUnconnectedSocketOpen(t *testing.T) {
	h := newPollHarness(t, Config{PingInterval: 30 * time.Millisecond, PingTimeout: 30 * time.Millisecond})
	c := h.dialWS(nil)
	done := make(chan int, 1)
	go func() { // answers every ping, never sends CONNECT
		for {
			_ = c.ws.SetReadDeadline(time.Now().Add(waitFor))
			_, b, err := c.ws.ReadMessage()
			if err != nil {
				code := 0
				if ce, ok := err.(*websocket.CloseError); ok {
					code = ce.Code
				}
				done <- code
				return
			}
			if string(b) == "2" {
				_ = c.ws.WriteMessage(websocket.TextMessage, []byte("3"))
			}
		}
	}()
	select {
	case code := <-done:
		if code != 1002 {
			t.Fatalf("close code %d, want 1002 (handshake timeout)", code)
		}
	case <-time.After(waitFor):
		t.Fatal("a socket that only answers pings was never closed")
	}
}
