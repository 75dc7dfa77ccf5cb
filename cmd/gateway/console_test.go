package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/hyvve/gateway/security"
)

const (
	consoleSecret = "console-test-secret-0123456789"
	consoleKey    = "console-admin-key-0123456789"
)

// lockedBuffer is the in-process gateway's stderr.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// runInProcess runs the gateway in this process (so goleak sees its
// goroutines) and stops it, checking it drained, at cleanup.
func runInProcess(t *testing.T, env map[string]string) string {
	t.Helper()
	env["LISTEN_ADDR"] = "127.0.0.1:0"
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan string, 1)
	done := make(chan int, 1)
	logs := &lockedBuffer{}
	go func() { done <- run(ctx, nil, func(k string) string { return env[k] }, logs, started) }()
	var addr string
	select {
	case addr = <-started:
	case code := <-done:
		t.Fatalf("gateway exited %d:\n%s", code, logs)
	case <-time.After(10 * time.Second):
		t.Fatal("gateway did not start")
	}
	t.Cleanup(func() {
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("exit %d", code)
			}
		case <-time.After(15 * time.Second):
			t.Error("gateway did not drain")
		}
		if strings.Contains(logs.String(), consoleKey) {
			t.Error("the admin key was logged")
		}
		if t.Failed() {
			t.Logf("gateway log:\n%s", logs)
		}
	})
	return addr
}

func consoleRequest(t *testing.T, method, url, key, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		t.Fatalf("%s %s: HTTP %d, body not JSON: %v", method, url, res.StatusCode, err)
	}
	return res.StatusCode, out
}

func TestConsoleIsOffWithoutAdminKey(t *testing.T) {
	addr := runInProcess(t, map[string]string{"JWT_SECRET": consoleSecret})
	for _, path := range []string{"/admin", "/admin/", "/admin/console.js", "/admin/api/snapshot"} {
		res, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusNotFound {
			t.Errorf("%s: HTTP %d, want 404", path, res.StatusCode)
		}
	}
}

func TestConsoleRefusesWithoutTheKey(t *testing.T) {
	addr := runInProcess(t, map[string]string{"JWT_SECRET": consoleSecret, "ADMIN_API_KEY": consoleKey})
	base := "http://" + addr
	for _, c := range []struct{ method, path, key string }{
		{"GET", "/admin/api/snapshot", ""},
		{"GET", "/admin/api/snapshot", "wrong"},
		{"GET", "/admin/api/snapshot", consoleKey + "x"},
		{"GET", "/admin/api/snapshot?key=" + consoleKey, ""}, // never from the URL
		{"GET", "/admin/api/events", ""},
		{"GET", "/admin/api/events", "wrong"},
		{"POST", "/admin/api/publish", ""},
		{"POST", "/admin/api/publish", "wrong"},
		{"GET", "/admin/api/nothing", ""},
	} {
		status, body := consoleRequest(t, c.method, base+c.path, c.key, `{}`)
		if status != http.StatusUnauthorized || body["error"] == nil {
			t.Errorf("%s %s key %q: HTTP %d %v, want 401 with a JSON error", c.method, c.path, c.key, status, body)
		}
	}
	// The page itself holds no data and is served to anyone.
	res, err := http.Get(base + "/admin")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(page), "operator console") ||
		!strings.Contains(res.Header.Get("Content-Security-Policy"), "connect-src 'self'") {
		t.Fatalf("page: HTTP %d %s", res.StatusCode, res.Header)
	}
}

// sseEvent is one event of the console's stream.
type sseEvent struct {
	name string
	data map[string]any
}

// openStream reads the console's event stream into a channel until the
// gateway ends it.
func openStream(t *testing.T, base string) <-chan sseEvent {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/admin/api/events", nil)
	req.Header.Set("Authorization", "Bearer "+consoleKey)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("stream: HTTP %d %s", res.StatusCode, res.Header)
	}
	events := make(chan sseEvent, 256)
	go func() {
		defer res.Body.Close()
		defer close(events)
		sc := bufio.NewScanner(res.Body)
		var name string
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				name = line[len("event: "):]
			case strings.HasPrefix(line, "data: "):
				var data map[string]any
				if err := json.Unmarshal([]byte(line[len("data: "):]), &data); err != nil {
					t.Errorf("event %s: %v", name, err)
				}
				events <- sseEvent{name, data}
			}
		}
	}()
	return events
}

// nextEvent waits for the first event named name for which match holds.
func nextEvent(t *testing.T, events <-chan sseEvent, name string, match func(map[string]any) bool) map[string]any {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				t.Fatalf("stream ended before a %s event", name)
			}
			if ev.name == name && match(ev.data) {
				return ev.data
			}
		case <-timeout:
			t.Fatalf("no %s event", name)
		}
	}
}

// call emits event with an ack and returns the ack's first argument.
func call(t *testing.T, ws *websocket.Conn, id, event string, data any) map[string]any {
	t.Helper()
	body, _ := json.Marshal([]any{event, data})
	if err := ws.WriteMessage(websocket.TextMessage, []byte("42"+id+string(body))); err != nil {
		t.Fatal(err)
	}
	for {
		f := readFrame(t, ws)
		if strings.HasPrefix(f, "43"+id+"[") {
			var args []map[string]any
			if err := json.Unmarshal([]byte(f[len("43"+id):]), &args); err != nil || len(args) == 0 {
				t.Fatalf("ack %q", f)
			}
			return args[0]
		}
	}
}

// snapshotRoom returns the room's entry in the console's snapshot, if any.
func snapshotRoom(t *testing.T, base, room string) map[string]any {
	t.Helper()
	status, body := consoleRequest(t, "GET", base+"/admin/api/snapshot", consoleKey, "")
	if status != 200 {
		t.Fatalf("snapshot: HTTP %d %v", status, body)
	}
	snap := body["snapshot"].(map[string]any)
	for _, r := range snap["rooms"].([]any) {
		if r := r.(map[string]any); r["name"] == room {
			return r
		}
	}
	return nil
}

func TestConsoleShowsTheGatewayLive(t *testing.T) {
	addr := runInProcess(t, map[string]string{"JWT_SECRET": consoleSecret, "ADMIN_API_KEY": consoleKey, "FAULT_INJECTION": "1"})
	base := "http://" + addr
	events := openStream(t, base)
	if s := nextEvent(t, events, "stats", func(map[string]any) bool { return true }); s["connections"] != 0.0 {
		t.Fatalf("first stats %v", s)
	}

	tok, _ := security.MintHS256([]byte(consoleSecret), security.Claims{Subject: "alice", WorkspaceID: "w1", ExpiresAt: time.Now().Add(time.Hour)})
	ws := dialGateway(t, addr, tok)
	const room = "workspace:w1:dashboard"
	if got := call(t, ws, "1", "join_room", map[string]any{"room": room}); got["joined"] != room {
		t.Fatalf("join: %v", got)
	}

	// The snapshot shows the connection, by workspace and transport, and the room.
	status, body := consoleRequest(t, "GET", base+"/admin/api/snapshot", consoleKey, "")
	if status != 200 {
		t.Fatalf("snapshot: HTTP %d %v", status, body)
	}
	if f := body["features"].(map[string]any); f["faultInjection"] != true {
		t.Fatalf("features %v", f)
	}
	snap := body["snapshot"].(map[string]any)
	conns := snap["connections"].([]any)
	if len(conns) != 1 || conns[0].(map[string]any)["workspace"] != "w1" || conns[0].(map[string]any)["transport"] != "websocket" ||
		conns[0].(map[string]any)["count"] != 1.0 {
		t.Fatalf("connections %v", conns)
	}
	if r := snapshotRoom(t, base, room); r == nil || r["members"] != 1.0 || r["restarts"] != 0.0 {
		t.Fatalf("room %v", r)
	}
	if tree := snap["tree"].(map[string]any); tree["kind"] != "gateway" || len(tree["children"].([]any)) < 3 {
		t.Fatalf("tree %v", tree)
	}
	nextEvent(t, events, "stats", func(s map[string]any) bool { return s["connections"] == 1.0 })

	// A security event reaches the stream with the log line's fields.
	if got := call(t, ws, "2", "join_room", map[string]any{"room": "workspace:other:dashboard"}); got["error"] != "ACCESS_DENIED" {
		t.Fatalf("foreign join: %v", got)
	}
	sec := nextEvent(t, events, "security", func(e map[string]any) bool { return e["event"] == "unauthorized_room_access" })
	if sec["type"] != "security_event" || sec["user_id"] != "alice" || sec["room"] != "workspace:other:dashboard" {
		t.Fatalf("security event %v", sec)
	}
	// A token put where a detail goes is redacted there as in the log.
	bad := dialRefused(t, addr, tok+"x")
	bad.Close()
	inv := nextEvent(t, events, "security", func(e map[string]any) bool { return e["event"] == "auth_invalid" })
	if raw, _ := json.Marshal(inv); strings.Contains(string(raw), tok) {
		t.Fatalf("a token reached the console: %s", raw)
	}

	// The console's publish form reaches the client.
	status, body = consoleRequest(t, "POST", base+"/admin/api/publish", consoleKey, `{"room":"`+room+`","event":"console.hello","data":{"n":1}}`)
	if status != 200 || body["recipients"] != 1.0 {
		t.Fatalf("publish: HTTP %d %v", status, body)
	}
	expectEvent(t, ws, `42["console.hello",{"n":1}]`)
	for _, bad := range []string{`{"room":"nowhere","event":"e"}`, `{"room":"` + room + `","event":"disconnect"}`, `{"room":"` + room + `"}`, `not json`} {
		if status, _ := consoleRequest(t, "POST", base+"/admin/api/publish", consoleKey, bad); status != 400 {
			t.Errorf("publish %s: HTTP %d, want 400", bad, status)
		}
	}

	// A room panic: the decision reaches the stream, the restart the snapshot.
	req, _ := http.NewRequest("POST", base+"/debug/faults", strings.NewReader(`{"kind":"room","target":"`+room+`","fault":"panic"}`))
	req.Header.Set("Authorization", "Bearer "+consoleKey)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("faults: HTTP %d", res.StatusCode)
	}
	// The room fails on this publish: the one message a failure may cost.
	if status, _ := consoleRequest(t, "POST", base+"/admin/api/publish", consoleKey, `{"room":"`+room+`","event":"lost"}`); status != 503 {
		t.Fatalf("publish into the panic: HTTP %d, want 503", status)
	}
	d := nextEvent(t, events, "supervision", func(e map[string]any) bool { return e["kind"] == "room" })
	if d["directive"] != "restart" || !strings.Contains(d["actor"].(string), "room:") {
		t.Fatalf("decision %v", d)
	}
	if r := snapshotRoom(t, base, room); r == nil || r["restarts"] != 1.0 || r["members"] != 1.0 {
		t.Fatalf("room after the restart %v", r)
	}
	nextEvent(t, events, "stats", func(s map[string]any) bool { return s["restarts"] == 1.0 })
}

// dialRefused sends a CONNECT with token and reads the CONNECT_ERROR.
func dialRefused(t *testing.T, addr, token string) *websocket.Conn {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/socket.io/?EIO=4&transport=websocket", nil)
	if err != nil {
		t.Fatal(err)
	}
	readFrame(t, ws) // OPEN
	if err := ws.WriteMessage(websocket.TextMessage, []byte(`40{"token":"`+token+`"}`)); err != nil {
		t.Fatal(err)
	}
	if f := readFrame(t, ws); !strings.HasPrefix(f, "44") {
		t.Fatalf("CONNECT answer %q, want CONNECT_ERROR", f)
	}
	return ws
}

// expectEvent reads frames until want.
func expectEvent(t *testing.T, ws *websocket.Conn, want string) {
	t.Helper()
	for {
		if f, offset := withoutOffset(readFrame(t, ws)); f == want && offset {
			return // a room broadcast, with its recovery offset last
		}
	}
}
