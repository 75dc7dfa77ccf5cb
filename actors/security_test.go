package actors_test

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestActionWebhook(t *testing.T) {
	var mu sync.Mutex
	var bodies []map[string]any
	release := make(chan struct{})
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		_ = json.NewDecoder(r.Body).Decode(&body)
		mu.Lock()
		bodies = append(bodies, body)
		mu.Unlock()
		switch body["action"] {
		case "fail":
			http.Error(w, "boom", http.StatusInternalServerError)
		case "slow":
			<-release
		case "not.json":
			_, _ = io.WriteString(w, "<html>")
		default:
			_, _ = io.WriteString(w, `{"accepted":true,"ticket":42}`)
		}
	}))
	defer backend.Close()
	defer close(release)
	h := newHarness(t, func(o *options) {
		o.actors.ActionWebhookURL = backend.URL
		o.actors.ActionWebhookTimeout = 300 * time.Millisecond
	})
	sender, watcher := h.dial(token(t, "s", "w")), h.dial(token(t, "o", "w"))
	joinAll("workspace:w:dashboard", sender, watcher)

	if got := sender.call("dashboard_action", map[string]any{"action": "approve", "payload": "p"}); !equalJSON(got, map[string]any{"accepted": true, "ticket": 42}) {
		t.Fatalf("ack %v", got)
	}
	mu.Lock()
	if len(bodies) != 1 || !equalJSON(bodies[0], map[string]any{"action": "approve", "payload": "p", "userId": "s", "workspaceId": "w"}) {
		t.Fatalf("webhook got %v", bodies)
	}
	mu.Unlock()
	for _, action := range []string{"fail", "slow", "not.json"} {
		if got := sender.call("dashboard_action", map[string]any{"action": action}); got["error"] != "UPSTREAM_UNAVAILABLE" {
			t.Fatalf("%s: %v", action, got)
		}
	}
	// With a webhook, actions are not broadcast.
	h.mustPublish("workspace:w:dashboard", "sentinel", nil)
	watcher.expectEvent("sentinel")

	refused := newHarness(t, func(o *options) { o.actors.ActionWebhookURL = "http://" + closedAddr(t) })
	c := refused.dial(token(t, "s", "w"))
	if got := c.call("dashboard_action", map[string]any{"action": "approve"}); got["error"] != "UPSTREAM_UNAVAILABLE" {
		t.Fatalf("refused connection: %v", got)
	}
}

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestTrustedProxiesDecideTheClientIP(t *testing.T) {
	h := newHarness(t, func(o *options) {
		o.actors.MaxConnectionsPerIP = 1
		o.transport.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	})
	// Behind the trusted proxy (127.0.0.1), clients are told apart by X-Forwarded-For.
	h.dial(token(t, "a", "w"), withHeader("X-Forwarded-For", "198.51.100.1"))
	h.dial(token(t, "b", "w"), withHeader("X-Forwarded-For", "198.51.100.2"))
	if _, code := h.dialRefused(`40{"token":"`+token(t, "c", "w")+`"}`, withHeader("X-Forwarded-For", "198.51.100.1")); code != "TOO_MANY_CONNECTIONS" {
		t.Fatalf("code %s", code)
	}
	if !strings.Contains(h.logs.String(), `"ip":"198.51.100.1"`) {
		t.Fatal("security event does not carry the forwarded client IP")
	}

	// Without trust, X-Forwarded-For is ignored: all three share 127.0.0.1.
	u := newHarness(t, func(o *options) { o.actors.MaxConnectionsPerIP = 1 })
	u.dial(token(t, "a", "w"), withHeader("X-Forwarded-For", "198.51.100.1"))
	if _, code := u.dialRefused(`40{"token":"`+token(t, "b", "w")+`"}`, withHeader("X-Forwarded-For", "198.51.100.2")); code != "TOO_MANY_CONNECTIONS" {
		t.Fatalf("spoofed XFF believed: %s", code)
	}
}

func TestNoLogLineHoldsATokenOrSecret(t *testing.T) {
	h := newHarness(t, func(o *options) { o.actors.MaxMessagesPerMinute = 2 })
	good := token(t, "u", "w")
	h.dialRefused(`40{"token":"` + good[:len(good)-3] + `abc"}`)
	c := h.dial(good)
	c.emit("token_refresh", map[string]any{"token": token(t, "other", "w")}, true)
	c.expectEvent("error")
	c2 := h.dial(token(t, "u2", "w"))
	c2.call("dashboard_action", map[string]any{"action": "x", "payload": good})
	c2.call("join_room", map[string]any{"room": "user:" + good})
	c2.call("join_room", map[string]any{"room": "user:x"})
	logs := h.logs.String()
	for _, secret := range []string{good, good[:len(good)-3], testSecret, publishKey} {
		if strings.Contains(logs, secret) {
			t.Fatalf("log holds a secret:\n%s", logs)
		}
	}
	if !strings.Contains(logs, `"type":"security_event"`) {
		t.Fatal("no security events logged")
	}
}
