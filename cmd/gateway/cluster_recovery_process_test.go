package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/hyvve/gateway/security"
	"github.com/hyvve/gateway/transport/cluster/clustertest"
)

// startJSCluster starts three gateway binaries with recovery on, each with an
// embedded NATS server listing every route (its own included), and waits
// until each logs that its JetStream recovery store is ready.
func startJSCluster(t *testing.T) []*process {
	t.Helper()
	routes := clustertest.Routes(t, 3)
	var nodes []*process
	for i := range 3 {
		nodes = append(nodes, startGateway(t, "JWT_SECRET="+processSecret, "PUBLISH_API_KEY=pk", "NODE_ID="+string(rune('a'+i)),
			"NATS_LISTEN=127.0.0.1:0", "NATS_CLUSTER_LISTEN="+strings.TrimPrefix(routes[i], "nats-route://"),
			"NATS_ROUTES="+strings.Join(routes, ","), "RECOVERY_WINDOW=1m", "SHUTDOWN_TIMEOUT=4s"))
	}
	for _, p := range nodes {
		p.waitLine(t, "cluster: JetStream recovery store ready")
	}
	return nodes
}

// waitLine reads the process's log until a line with message msg, bounded.
func (p *process) waitLine(t *testing.T, msg string) {
	t.Helper()
	if strings.Contains(p.stderr.String(), `"msg":"`+msg+`"`) {
		return
	}
	timeout := time.After(30 * time.Second)
	for {
		select {
		case line, ok := <-p.lines:
			if !ok {
				t.Fatalf("exited before %q:\n%s", msg, p.stderr)
			}
			p.stderr.WriteString(line + "\n")
			if strings.Contains(line, `"msg":"`+msg+`"`) {
				return
			}
		case <-timeout:
			t.Fatalf("no %q within 30s:\n%s", msg, p.stderr)
		}
	}
}

// dialAuth connects with auth and returns the socket and its CONNECT answer.
func dialAuth(t *testing.T, addr string, auth map[string]string) (*websocket.Conn, map[string]string) {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/socket.io/?EIO=4&transport=websocket", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	readFrame(t, ws) // OPEN
	b, _ := json.Marshal(auth)
	if err := ws.WriteMessage(websocket.TextMessage, append([]byte("40"), b...)); err != nil {
		t.Fatal(err)
	}
	// socket.io-client waits 20 s for the answer; a recovery right after a
	// node died waits for its streams' new leaders.
	_ = ws.SetReadDeadline(time.Now().Add(20 * time.Second))
	_, data, err := ws.ReadMessage()
	if err != nil {
		t.Fatalf("CONNECT answer: %v", err)
	}
	f := string(data)
	var ans map[string]string
	if !strings.HasPrefix(f, "40{") || json.Unmarshal([]byte(f[2:]), &ans) != nil || ans["sid"] == "" {
		t.Fatalf("CONNECT answer %q", f)
	}
	return ws, ans
}

// numbered reads the next numbered broadcast 42["n",k,"off"], answering pings.
func numbered(t *testing.T, ws *websocket.Conn) (k int, off string) {
	t.Helper()
	for {
		f := readFrame(t, ws)
		if f == "2" {
			_ = ws.WriteMessage(websocket.TextMessage, []byte("3"))
			continue
		}
		var args []json.RawMessage
		if !strings.HasPrefix(f, `42["n",`) || json.Unmarshal([]byte(f[2:]), &args) != nil || len(args) != 3 ||
			json.Unmarshal(args[1], &k) != nil || json.Unmarshal(args[2], &off) != nil {
			t.Fatalf("want a numbered broadcast, got %q", f)
		}
		return k, off
	}
}

// publishNumber publishes n to room and returns the recipients count.
func publishNumber(addr, room string, n int) (int, error) {
	body := fmt.Sprintf(`{"room":%q,"event":"n","data":%d}`, room, n)
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/v1/publish", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer pk")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out struct{ Recipients int }
	if resp.StatusCode != http.StatusOK || json.Unmarshal(raw, &out) != nil {
		return 0, fmt.Errorf("publish %d: %d %s", n, resp.StatusCode, raw)
	}
	return out.Recipients, nil
}

// TestProcessRecoveryOnAnotherNodeAfterItsNodeEnds: three binaries; a client
// on node A, node C publishing a numbered stream; the client's connection
// breaks while A runs on, or A ends (SIGTERM or kill -9); the client
// reconnects to node B with its pid and last offset and gets its session
// back with every number exactly once, in order.
func TestProcessRecoveryOnAnotherNodeAfterItsNodeEnds(t *testing.T) {
	// 0: the client's transport breaks and A runs on.
	for _, sig := range []syscall.Signal{0, syscall.SIGTERM, syscall.SIGKILL} {
		name := sig.String()
		if sig == 0 {
			name = "transport break"
		}
		t.Run(name, func(t *testing.T) {
			nodes := startJSCluster(t)
			a, b, c := nodes[0], nodes[1], nodes[2]
			tok, _ := security.MintHS256([]byte(processSecret), security.Claims{Subject: "u1", WorkspaceID: "w", ExpiresAt: time.Now().Add(time.Hour)})
			const room = "workspace:w:approvals"
			ws, ans := dialAuth(t, a.addr, map[string]string{"token": tok})
			joinRoom(t, ws, room)
			// Numbers reach A once C knows A hosts the room: probe with 0s
			// until C counts A's member (the client skips the 0s).
			deadline := time.Now().Add(15 * time.Second)
			for {
				n, err := publishNumber(c.addr, room, 0)
				if err != nil {
					t.Fatal(err)
				}
				if n == 1 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("C never counted A's member")
				}
				time.Sleep(50 * time.Millisecond) // a probe interval, not a wait for an outcome
			}

			const total = 60
			var wg sync.WaitGroup
			errs := make(chan error, total)
			step := make(chan int, total)
			wg.Add(1)
			go func() { // C publishes 1..total, one after another
				defer wg.Done()
				for n := 1; n <= total; n++ {
					if _, err := publishNumber(c.addr, room, n); err != nil {
						errs <- err
						return
					}
					step <- n
				}
			}()
			defer wg.Wait()
			// Drain leftover probes, then receive up to 10 on A.
			lastK, lastOff := 0, ""
			for lastK < 10 {
				k, off := numbered(t, ws)
				if k == 0 {
					continue
				}
				if k != lastK+1 {
					t.Fatalf("on A: %d after %d", k, lastK)
				}
				lastK, lastOff = k, off
			}
			if sig == syscall.SIGTERM {
				_ = a.cmd.Process.Signal(sig)
				// The drain closes the transport (1001): read until then.
				for {
					_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
					_, data, err := ws.ReadMessage()
					if err != nil {
						break
					}
					var args []json.RawMessage
					var k int
					var off string
					if len(data) > 2 && json.Unmarshal(data[2:], &args) == nil && len(args) == 3 && json.Unmarshal(args[1], &k) == nil && json.Unmarshal(args[2], &off) == nil && k > 0 {
						if k != lastK+1 {
							t.Fatalf("on A while draining: %d after %d", k, lastK)
						}
						lastK, lastOff = k, off
					}
				}
				if code, log := a.wait(t); code != 0 {
					t.Fatalf("A exited %d\n%s", code, log)
				}
			} else if sig != 0 {
				_ = a.cmd.Process.Signal(sig)
				a.wait(t)
			}
			ws.Close() // with A running: the TCP connection just ends
			// A few more numbers while the client is away.
			for n := range step {
				if n >= lastK+5 {
					break
				}
			}
			ws2, ans2 := dialAuth(t, b.addr, map[string]string{"token": tok, "pid": ans["pid"], "offset": lastOff})
			if ans2["sid"] != ans["sid"] || ans2["pid"] != ans["pid"] {
				b.drainLines()
				t.Fatalf("not recovered on B: %v, was %v\nB:\n%s", ans2, ans, grepLog(b.stderr.String()))
			}
			for lastK < total {
				k, _ := numbered(t, ws2)
				if k != lastK+1 {
					c.drainLines()
					b.drainLines()
					t.Fatalf("on B: %d after %d\nB:\n%s\nC:\n%s", k, lastK, grepLog(b.stderr.String()), grepLog(c.stderr.String()))
				}
				lastK = k
			}
			select {
			case err := <-errs:
				t.Fatal(err)
			default:
			}
			if strings.Contains(b.stderr.String()+c.stderr.String(), ans["pid"]) {
				t.Fatal("the pid was logged")
			}
		})
	}
}

// drainLines moves the log lines read so far into stderr.
func (p *process) drainLines() {
	for {
		select {
		case line, ok := <-p.lines:
			if !ok {
				return
			}
			p.stderr.WriteString(line + "\n")
		default:
			return
		}
	}
}

// grepLog keeps the gateway's own warnings and recovery lines.
func grepLog(s string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, "recover") || strings.Contains(l, `"level":"WARN"`) && !strings.Contains(l, "nats-server") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
