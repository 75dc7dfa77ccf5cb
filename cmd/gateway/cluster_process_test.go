package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/hyvve/gateway/security"
)

// startClusterNode starts a gateway binary with an embedded NATS server and
// returns it with its NATS route URL, read from its "cluster enabled" line.
func startClusterNode(t *testing.T, id string, routes ...string) (*process, string) {
	t.Helper()
	p := startGateway(t, "JWT_SECRET="+processSecret, "PUBLISH_API_KEY=pk", "NODE_ID="+id,
		"NATS_LISTEN=127.0.0.1:0", "NATS_CLUSTER_LISTEN=127.0.0.1:0", "NATS_ROUTES="+strings.Join(routes, ","))
	for _, line := range strings.Split(p.stderr.String(), "\n") {
		var rec struct {
			Msg   string `json:"msg"`
			Route string `json:"nats_route_url"`
		}
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "cluster enabled" {
			return p, rec.Route
		}
	}
	t.Fatalf("no cluster line:\n%s", p.stderr)
	return nil, ""
}

const processSecret = "0123456789abcdef0123"

func joinRoom(t *testing.T, ws *websocket.Conn, room string) {
	t.Helper()
	if err := ws.WriteMessage(websocket.TextMessage, []byte(`421["join_room",{"room":"`+room+`"}]`)); err != nil {
		t.Fatal(err)
	}
	for {
		f := readFrame(t, ws)
		if f == "2" {
			_ = ws.WriteMessage(websocket.TextMessage, []byte("3"))
			continue
		}
		if f != `431[{"joined":"`+room+`"}]` {
			t.Fatalf("join answer %q", f)
		}
		return
	}
}

// expectEventFrame reads until the broadcast want (an event name) arrives,
// answering pings.
func expectEventFrame(t *testing.T, ws *websocket.Conn, want string) {
	t.Helper()
	for {
		f := readFrame(t, ws)
		if f == "2" {
			_ = ws.WriteMessage(websocket.TextMessage, []byte("3"))
			continue
		}
		if !isBroadcast(f, want) {
			t.Fatalf("got %q, want the broadcast %q", f, want)
		}
		return
	}
}

// isBroadcast reports whether frame is the broadcast event with data 1 and,
// last, its recovery offset (docs/PROTOCOL.md "Connection state recovery"): 42["event",1,"17"].
func isBroadcast(frame, event string) bool {
	rest, ok := strings.CutPrefix(frame, `42["`+event+`",1,"`)
	if !ok || !strings.HasSuffix(rest, `"]`) {
		return false
	}
	_, err := strconv.ParseUint(strings.TrimSuffix(rest, `"]`), 10, 64)
	return err == nil
}

// withoutOffset returns a broadcast frame without its recovery offset (the
// last argument, a decimal string) and whether it had one:
// 42["e",{"n":1},"17"] → 42["e",{"n":1}].
func withoutOffset(frame string) (string, bool) {
	body, ok := strings.CutSuffix(frame, `"]`)
	i := strings.LastIndex(body, `,"`)
	if !ok || i < 0 {
		return frame, false
	}
	if _, err := strconv.ParseUint(body[i+2:], 10, 64); err != nil {
		return frame, false
	}
	return body[:i] + "]", true
}

func publishTo(t *testing.T, addr, room, event string) map[string]any {
	t.Helper()
	body := `{"room":"` + room + `","event":"` + event + `","data":1}`
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/v1/publish", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer pk")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if resp.StatusCode != http.StatusOK || json.Unmarshal(raw, &out) != nil {
		t.Fatalf("publish on %s: %d %s", addr, resp.StatusCode, raw)
	}
	return out
}

// TestThreeProcessesSurviveKill9 runs three gateway binaries clustered over
// their embedded NATS servers, kills one with SIGKILL, and checks the
// clients on the other two keep receiving what is published on either.
func TestThreeProcessesSurviveKill9(t *testing.T) {
	a, routeA := startClusterNode(t, "a")
	b, routeB := startClusterNode(t, "b", routeA)
	c, _ := startClusterNode(t, "c", routeA, routeB)
	tok := func(sub string) string {
		s, _ := security.MintHS256([]byte(processSecret), security.Claims{Subject: sub, WorkspaceID: "w", ExpiresAt: time.Now().Add(time.Hour)})
		return s
	}
	const room = "workspace:w:dashboard"
	clients := map[string]*websocket.Conn{"a": dialGateway(t, a.addr, tok("ua")), "b": dialGateway(t, b.addr, tok("ub")), "c": dialGateway(t, c.addr, tok("uc"))}
	for _, ws := range clients {
		joinRoom(t, ws, room)
	}
	// The interest registry converges within a heartbeat or two: publish
	// probes until one counts every node's member, then drain the probes (a
	// client may have missed the earlier ones while its node was unknown).
	deadline := time.Now().Add(15 * time.Second)
	last := ""
	for i := 0; ; i++ {
		last = "warmup" + strconv.Itoa(i)
		out := publishTo(t, a.addr, room, last)
		if out["recipients"].(float64) == 3 && out["partial"] == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("cluster never counted 3 recipients: %v", out)
		}
		time.Sleep(50 * time.Millisecond) // a probe interval, not a wait for an outcome
	}
	for _, ws := range clients {
		for {
			f := readFrame(t, ws)
			if isBroadcast(f, last) {
				break
			}
			if !strings.HasPrefix(f, `42["warmup`) && f != "2" {
				t.Fatalf("unexpected frame while draining probes: %q", f)
			}
		}
	}

	if err := c.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	c.wait(t)
	for i, origin := range []*process{a, b, a, b} {
		event := "after.kill" + string(rune('0'+i))
		out := publishTo(t, origin.addr, room, event)
		if out["recipients"].(float64) < 2 {
			t.Fatalf("publish %d after kill: %v", i, out)
		}
		expectEventFrame(t, clients["a"], event)
		expectEventFrame(t, clients["b"], event)
	}
	for _, p := range []*process{a, b} {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		if code, log := p.wait(t); code != 0 {
			t.Fatalf("exit %d\n%s", code, log)
		}
	}
}
