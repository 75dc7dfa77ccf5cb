package transport

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hyvve/gateway/security"
)

// serveHTTP runs the production http.Server of a Server with cfg on a real
// loopback listener (limited when budget > 0) and returns its address.
func serveHTTP(t *testing.T, cfg Config, budget, spare int) string {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	reg := prometheus.NewRegistry()
	s := NewServer(cfg, Deps{Events: security.NewEventLog(log, reg, 0, 0), Logger: log, Registry: reg})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if budget > 0 {
		ln = LimitListener(ln, budget, spare, nil)
	}
	hs := s.HTTPServer(nil)
	done := make(chan struct{})
	go func() { defer close(done); _ = hs.Serve(ln) }()
	t.Cleanup(func() {
		// Shutdown, not Close: it waits for every connection's goroutine
		// (net/http lingers after an error answer such as 431).
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		_ = hs.Shutdown(ctx)
		<-done
	})
	return ln.Addr().String()
}

func rawConn(t *testing.T, addr string) net.Conn {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = nc.Close() })
	_ = nc.SetDeadline(time.Now().Add(waitFor))
	return nc
}

// expectClosed reads until the server closes the connection; a read that
// times out (waitFor) means it never did.
func expectClosed(t *testing.T, nc net.Conn, r *bufio.Reader, what string) {
	t.Helper()
	_, err := io.Copy(io.Discard, r)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("%s: the server kept the connection open", what)
	}
}

func TestUnfinishedBodyIsClosedAfterReadTimeout(t *testing.T) {
	addr := serveHTTP(t, Config{ReadTimeout: 200 * time.Millisecond}, 0, 0)
	nc := rawConn(t, addr)
	// One chunk, then silence: the body never ends.
	_, _ = io.WriteString(nc, "POST /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
	expectClosed(t, nc, bufio.NewReader(nc), "unfinished chunked body")
}

func TestIdleKeepAliveIsClosed(t *testing.T) {
	addr := serveHTTP(t, Config{IdleTimeout: 200 * time.Millisecond}, 0, 0)
	nc := rawConn(t, addr)
	_, _ = io.WriteString(nc, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
	r := bufio.NewReader(nc)
	resp, err := http.ReadResponse(r, nil)
	if err != nil || resp.StatusCode != http.StatusOK || resp.Close {
		t.Fatalf("healthz: %v %v", resp, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	expectClosed(t, nc, r, "idle keep-alive")
}

func TestOversizedHeadersGet431(t *testing.T) {
	addr := serveHTTP(t, Config{}, 0, 0)
	nc := rawConn(t, addr)
	big := strings.Repeat("a", 64<<10)
	_, _ = io.WriteString(nc, "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\n"+
		"Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"+
		"X-Big: "+big+"\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("64 KiB of headers: status %d, want 431", resp.StatusCode)
	}
}

// TestConnectionBudgetKeepsHealthAnswering fills the budget, then checks a
// spare slot still answers /healthz (and only it), and that past the spare
// slots a connection is closed at accept.
func TestConnectionBudgetKeepsHealthAnswering(t *testing.T) {
	addr := serveHTTP(t, Config{}, 2, 1)
	get := func(nc net.Conn, r *bufio.Reader, path string) *http.Response {
		t.Helper()
		_, _ = io.WriteString(nc, "GET "+path+" HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(r, nil)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp
	}
	for range 2 { // the budget, held by idle keep-alives
		nc := rawConn(t, addr)
		if resp := get(nc, bufio.NewReader(nc), "/healthz"); resp.StatusCode != http.StatusOK {
			t.Fatalf("within the budget: %d", resp.StatusCode)
		}
	}
	spare := rawConn(t, addr)
	over := rawConn(t, addr) // accepted after spare: no slot left
	expectClosed(t, over, bufio.NewReader(over), "past budget and spare")
	r := bufio.NewReader(spare)
	if resp := get(spare, r, "/healthz"); resp.StatusCode != http.StatusOK || !resp.Close {
		t.Fatalf("spare slot /healthz: %d close=%v", resp.StatusCode, resp.Close)
	}
	expectClosed(t, spare, r, "spare slot after its answer")
	// The spare slot is free again; it serves nothing but health and metrics.
	nc := rawConn(t, addr)
	if resp := get(nc, bufio.NewReader(nc), "/v1/publish"); resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("spare slot /v1/publish: %d, want 503", resp.StatusCode)
	}
}
