package actors_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestInvalidUTF8NeverReachesAClient: WebSocket text frames must be UTF-8,
// and a client drops the connection on one that is not. Every path that
// relays outside data refuses invalid UTF-8 where it enters, so a bad
// publisher or client never costs the room's members their connection.
func TestInvalidUTF8NeverReachesAClient(t *testing.T) {
	h := newHarness(t)
	tab1, tab2 := h.dial(token(t, "u", "w")), h.dial(token(t, "u", "w"))

	for _, body := range []string{
		`{"room":"user:u","event":"e","data":"` + "\xff\xfe" + `"}`,
		`{"room":"user:u","event":"e","data":{"` + "\xc3" + `":1}}`,
		`{"room":"user:u","event":"e` + "\xed\xa0\x80" + `","data":1}`, // a UTF-16 surrogate
	} {
		status, answer := h.publish(publishKey, body)
		if reason, _ := answer["error"].(string); status != http.StatusBadRequest || !strings.Contains(reason, "UTF-8") {
			t.Fatalf("publish %q: %d %v, want 400 with the reason", body, status, answer)
		}
	}
	h.mustPublish("user:u", "sentinel", nil)
	tab1.expectEvent("sentinel")
	tab2.expectEvent("sentinel")

	// A client's frame with invalid UTF-8 (gorilla does not check text
	// frames; the codec does) closes that client only, and is never relayed.
	tab1.writeText(`42["state_sync",{"state":"` + "\xff" + `"}]`)
	tab1.expectClose(1002)
	h.mustPublish("user:u", "sentinel", nil)
	tab2.expectEvent("sentinel")
}

// TestWebhookAnswerWithInvalidUTF8IsUpstreamUnavailable: the backend's
// answer becomes the ack frame, so it must be UTF-8 too.
func TestWebhookAnswerWithInvalidUTF8IsUpstreamUnavailable(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(`{"ok":"` + "\xff\xfe" + `"}`))
	}))
	defer backend.Close()
	h := newHarness(t, func(o *options) {
		o.actors.ActionWebhookURL = backend.URL
		o.actors.ActionWebhookTimeout = time.Second
	})
	c := h.dial(token(t, "s", "w"))
	if got := c.call("dashboard_action", map[string]any{"action": "approve"}); got["error"] != "UPSTREAM_UNAVAILABLE" {
		t.Fatalf("ack %v", got)
	}
	h.mustPublish("user:s", "sentinel", nil)
	c.expectEvent("sentinel")
}
