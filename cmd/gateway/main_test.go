package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/goleak"

	"github.com/hyvve/gateway/security"
)

var gatewayBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "gateway-bin")
	if err != nil {
		panic(err)
	}
	gatewayBin = filepath.Join(dir, "gateway")
	if out, err := exec.Command("go", "build", "-o", gatewayBin, ".").CombinedOutput(); err != nil {
		panic("go build: " + err.Error() + "\n" + string(out))
	}
	code := m.Run()
	os.RemoveAll(dir)
	if code == 0 {
		// protoactor's dead-letter throttle outlives its system by a second
		// (the in-process gateways of console_test.go), as in the actors tests.
		if err := goleak.Find(goleak.IgnoreTopFunction("github.com/asynkron/protoactor-go/actor.NewDeadLetter.NewThrottle.func4.1")); err != nil {
			println(err.Error())
			code = 1
		}
	}
	os.Exit(code)
}

// process is a gateway binary running on a free loopback port.
type process struct {
	cmd    *exec.Cmd
	addr   string
	stderr *strings.Builder
	lines  chan string
	done   chan error
}

func startGateway(t *testing.T, env ...string) *process {
	t.Helper()
	cmd := exec.Command(gatewayBin)
	cmd.Env = append([]string{"LISTEN_ADDR=127.0.0.1:0", "PATH=" + os.Getenv("PATH")}, env...)
	pipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &process{cmd: cmd, stderr: &strings.Builder{}, lines: make(chan string, 1024), done: make(chan error, 1)}
	go func() {
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		close(p.lines)
		p.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		for range p.lines {
		}
	})
	for line := range p.lines {
		p.stderr.WriteString(line + "\n")
		var rec struct {
			Msg  string `json:"msg"`
			Addr string `json:"addr"`
		}
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "gateway listening" {
			p.addr = rec.Addr
			return p
		}
	}
	t.Fatalf("gateway did not start:\n%s", p.stderr)
	return nil
}

// drainOutput reads the rest of stderr until the process exits.
func (p *process) wait(t *testing.T) (int, string) {
	t.Helper()
	timeout := time.After(15 * time.Second)
	for {
		select {
		case line, ok := <-p.lines:
			if !ok {
				err := <-p.done
				var ee *exec.ExitError
				if errors.As(err, &ee) {
					return ee.ExitCode(), p.stderr.String()
				}
				return 0, p.stderr.String()
			}
			p.stderr.WriteString(line + "\n")
		case <-timeout:
			t.Fatalf("gateway did not exit:\n%s", p.stderr)
		}
	}
}

func dialGateway(t *testing.T, addr, token string) *websocket.Conn {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/socket.io/?EIO=4&transport=websocket", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	readFrame(t, ws) // OPEN
	if err := ws.WriteMessage(websocket.TextMessage, []byte(`40{"token":"`+token+`"}`)); err != nil {
		t.Fatal(err)
	}
	if f := readFrame(t, ws); !strings.HasPrefix(f, "40{") {
		t.Fatalf("CONNECT answer %q", f)
	}
	return ws
}

// readFrame returns the next frame but presence events (presence has tests
// of its own).
func readFrame(t *testing.T, ws *websocket.Conn) string {
	t.Helper()
	for {
		_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, data, err := ws.ReadMessage()
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		if !strings.HasPrefix(string(data), `42["presence_`) {
			return string(data)
		}
	}
}

func TestSIGTERMDrainsAndExitsZero(t *testing.T) {
	const secret = "0123456789abcdef0123"
	p := startGateway(t, "JWT_SECRET="+secret)
	tok, _ := security.MintHS256([]byte(secret), security.Claims{Subject: "u", WorkspaceID: "w", ExpiresAt: time.Now().Add(time.Hour)})
	clients := []*websocket.Conn{dialGateway(t, p.addr, tok), dialGateway(t, p.addr, tok)}

	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for _, ws := range clients {
		// docs/PROTOCOL.md "Close codes": no DISCONNECT before the 1001 (the client reconnects
		// by itself and recovers); pings may still come first.
		_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
		var err error
		for err == nil {
			var data []byte
			if _, data, err = ws.ReadMessage(); err == nil && string(data) != "2" {
				t.Fatalf("want the close frame, got %q", data)
			}
		}
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != websocket.CloseGoingAway {
			t.Fatalf("want close 1001, got %v", err)
		}
	}
	code, log := p.wait(t)
	if code != 0 {
		t.Fatalf("exit code %d\n%s", code, log)
	}
	if !strings.Contains(log, `"msg":"drained"`) {
		t.Fatalf("no drained line:\n%s", log)
	}
	if strings.Contains(log, tok) || strings.Contains(log, secret) {
		t.Fatal("a token or the secret was logged")
	}
}

func TestReadyzTurns503WhileDraining(t *testing.T) {
	const secret = "0123456789abcdef0123"
	p := startGateway(t, "JWT_SECRET="+secret, "SHUTDOWN_TIMEOUT=3s")
	// A client that never answers the close frame keeps the drain open
	// for the close grace, long enough to ask /readyz.
	ws, _, err := websocket.DefaultDialer.Dial("ws://"+p.addr+"/socket.io/?EIO=4&transport=websocket", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	get := func(path string) int {
		resp, err := http.Get("http://" + p.addr + path)
		if err != nil {
			return -1
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if get("/readyz") != 200 || get("/healthz") != 200 {
		t.Fatal("not ready before SIGTERM")
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	deadline := time.Now().Add(5 * time.Second)
	for get("/readyz") != http.StatusServiceUnavailable {
		if time.Now().After(deadline) {
			t.Fatal("/readyz never answered 503 while draining")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if code, log := p.wait(t); code != 0 {
		t.Fatalf("exit %d\n%s", code, log)
	}
}

var jwtPattern = regexp.MustCompile(`eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+`)

func TestDevelopmentModePrintsAWorkingToken(t *testing.T) {
	p := startGateway(t)
	var banner strings.Builder
	tokens := 0
	tok := jwtPattern.FindString(p.stderr.String())
	if tok != "" {
		tokens = 1
	}
	for tokens == 0 {
		select {
		case line := <-p.lines:
			banner.WriteString(line + "\n")
			if m := jwtPattern.FindString(line); m != "" {
				tok, tokens = m, 1
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no dev token printed:\n%s%s", p.stderr, banner.String())
		}
	}
	all := p.stderr.String() + banner.String()
	if !strings.Contains(all, "INSECURE DEVELOPMENT MODE") {
		t.Fatalf("no loud warning:\n%s", all)
	}
	dialGateway(t, p.addr, tok)
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	code, everything := p.wait(t)
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	if n := len(jwtPattern.FindAllString(everything+banner.String(), -1)); n != 1 {
		t.Fatalf("%d tokens in the output, want only the dev token", n)
	}
}

func TestBadConfigurationExitsWithAClearError(t *testing.T) {
	cmd := exec.Command(gatewayBin)
	cmd.Env = []string{"PING_INTERVAL=soon", "JWT_SECRET=short"}
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 {
		t.Fatalf("exit %v", err)
	}
	for _, want := range []string{"configuration error", "PING_INTERVAL", "JWT_SECRET must be at least 16 bytes"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// TestDevelopmentModeFirstSteps walks the README's first steps: the printed
// token connects, the printed publish key publishes, a Vite page
// (http://localhost:5173) may connect, `gateway token` mints a second
// identity, and after a restart the first token still works.
func TestDevelopmentModeFirstSteps(t *testing.T) {
	dir := t.TempDir()
	p := startGateway(t, "XDG_CONFIG_HOME="+dir)
	banner := p.stderr.String()
	tok := jwtPattern.FindString(banner)
	m := regexp.MustCompile(`Bearer (dev-[0-9a-f]+)`).FindStringSubmatch(banner)
	if tok == "" || m == nil || !strings.Contains(banner, "curl -X POST http://localhost:") {
		t.Fatalf("no dev token, publish key or curl line:\n%s", banner)
	}
	st, err := os.Stat(filepath.Join(dir, "hyvve-gateway", "dev-secret"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("development secret file: %v, mode %v", err, st)
	}

	ws := dialGateway(t, p.addr, tok)
	_ = ws.WriteMessage(websocket.TextMessage, []byte(`421["join_room",{"room":"workspace:dev-workspace:dashboard"}]`))
	if f := readFrame(t, ws); !strings.HasPrefix(f, "431") {
		t.Fatalf("join ack %q", f)
	}
	req, _ := http.NewRequest(http.MethodPost, "http://"+p.addr+"/v1/publish",
		strings.NewReader(`{"room":"workspace:dev-workspace:dashboard","event":"metrics.updated","data":{"cpu":0.42}}`))
	req.Header.Set("Authorization", "Bearer "+m[1])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("publish with the printed key: %d", resp.StatusCode)
	}
	if f, offset := withoutOffset(readFrame(t, ws)); f != `42["metrics.updated",{"cpu":0.42}]` || !offset {
		t.Fatalf("published frame %q (offset %v)", f, offset)
	}

	for origin, want := range map[string]int{"http://localhost:5173": http.StatusSwitchingProtocols, "http://127.0.0.1:8081": http.StatusSwitchingProtocols, "https://evil.example": http.StatusForbidden} {
		c, resp, _ := websocket.DefaultDialer.Dial("ws://"+p.addr+"/socket.io/?EIO=4&transport=websocket", http.Header{"Origin": {origin}})
		if c != nil {
			c.Close()
		}
		if resp == nil || resp.StatusCode != want {
			t.Errorf("origin %s: %v, want %d", origin, resp, want)
		}
	}

	var out, errOut strings.Builder
	if code := runToken([]string{"--sub", "alice", "--workspace", "dev-workspace"}, env(map[string]string{"XDG_CONFIG_HOME": dir}), &out, &errOut); code != 0 {
		t.Fatalf("gateway token in development mode: exit %d: %s", code, errOut.String())
	}
	dialGateway(t, p.addr, strings.TrimSpace(out.String()))

	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	if code, _ := p.wait(t); code != 0 {
		t.Fatalf("exit %d", code)
	}
	again := startGateway(t, "XDG_CONFIG_HOME="+dir)
	dialGateway(t, again.addr, tok) // the same secret after a restart
	if !strings.Contains(again.stderr.String(), m[1]) {
		t.Fatal("the development publish key changed across a restart")
	}
}
