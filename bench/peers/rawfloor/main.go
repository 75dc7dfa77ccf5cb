// Command rawfloor is the benchmarks' raw floor: the least a WebSocket
// broadcast server can do for the load tool's workload, with no actors, no
// authentication and no protocol beyond what the tool needs (OPEN, CONNECT,
// join_room acks, pings, POST /v1/publish). What the gateway costs beyond
// it is the price of everything else.
//
//	rawfloor -mode=single     one gorilla WriteMessage (one write) per frame
//	rawfloor -mode=vectored   all of a connection's queued frames in one
//	                          vectored write (net.Buffers, hand-built headers)
//
// Once serving it prints {"msg":"rawfloor listening","addr":"HOST:PORT"} on
// stderr.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// Server timings.
const (
	readHeaderTimeout = 10 * time.Second
	shutdownTimeout   = 5 * time.Second
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	mode := flag.String("mode", "vectored", "write mode: single or vectored")
	flag.Parse()
	m, err := parseMode(*mode)
	if err != nil {
		fmt.Fprintln(os.Stderr, "rawfloor:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := serve(ctx, *addr, m); err != nil {
		fmt.Fprintln(os.Stderr, "rawfloor:", err)
		os.Exit(1)
	}
}

// serve listens on addr and serves until ctx ends.
func serve(ctx context.Context, addr string, m writeMode) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	h := newHub(m)
	srv := &http.Server{Handler: h.handler(), ReadHeaderTimeout: readHeaderTimeout}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	line, _ := json.Marshal(map[string]string{"msg": "rawfloor listening", "addr": ln.Addr().String(), "mode": m.String()})
	fmt.Fprintf(os.Stderr, "%s\n", line)
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	h.closeAll()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}
