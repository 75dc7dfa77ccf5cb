// Command gatewayprof is the gateway wired from its packages the way
// cmd/gateway wires it (HS256 verifier, actor system, transport server,
// publish API), plus net/http/pprof on a second loopback listener, so that
// the load tool's workloads can be profiled: CPU, heap per connection,
// goroutines, mutex contention.
//
//	go run ./bench/peers/gatewayprof -addr 127.0.0.1:8080 -pprof 127.0.0.1:6060
//	go run ./cmd/gateway-bench idle -target http://127.0.0.1:8080 -hold 60s &
//	go tool pprof -sample_index=inuse_space http://127.0.0.1:6060/debug/pprof/heap
//
// It reads no environment: the secrets are the load tool's defaults and
// every limit is opened wide, as compare configures the real gateway. It
// is not a second gateway; cmd/gateway is what compare measures.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hyvve/gateway/actors"
	"github.com/hyvve/gateway/bench"
	"github.com/hyvve/gateway/security"
	"github.com/hyvve/gateway/transport"
)

// Server timings and the profiling rates turned on at start.
const (
	readHeaderTimeout    = 10 * time.Second
	mutexProfileFraction = 100
	blockProfileRate     = 10000 // ns
	benchConnsPerIP      = 1000000
	benchMsgsPerMinute   = 100000
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "gateway listen address")
	pprofAddr := flag.String("pprof", "127.0.0.1:6060", "pprof listen address (loopback)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := serve(ctx, *addr, *pprofAddr); err != nil {
		fmt.Fprintln(os.Stderr, "gatewayprof:", err)
		os.Exit(1)
	}
}

func serve(ctx context.Context, addr, pprofAddr string) error {
	runtime.SetMutexProfileFraction(mutexProfileFraction)
	runtime.SetBlockProfileRate(blockProfileRate)
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	verifier, closer, err := security.NewVerifier(ctx, security.VerifierConfig{Secret: []byte(bench.DefaultJWTSecret)})
	if err != nil {
		return err
	}
	defer closer.Close()
	reg := prometheus.NewRegistry()
	events := security.NewEventLog(log, reg, 0, 0)
	system, err := actors.NewSystem(actors.Config{MaxConnectionsPerIP: benchConnsPerIP, MaxMessagesPerMinute: benchMsgsPerMinute},
		actors.Deps{Logger: log, Events: events, Verifier: verifier, Policy: security.DefaultPolicy(), Registry: reg})
	if err != nil {
		return err
	}
	defer system.Shutdown()
	srv := transport.NewServer(transport.Config{AllowedOrigins: []string{"*"}, PublishAPIKey: bench.DefaultPublishKey},
		transport.Deps{Verifier: verifier, Gateway: system, Events: events, Logger: log, Registry: reg})

	pln, err := net.Listen("tcp", pprofAddr)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/memstats", serveMemStats)
	go func() { _ = http.Serve(pln, mux) }()

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: readHeaderTimeout}
	go func() { _ = hs.Serve(ln) }()
	line, _ := json.Marshal(map[string]string{"msg": "gatewayprof listening", "addr": ln.Addr().String(), "pprof": pln.Addr().String()})
	fmt.Fprintf(os.Stderr, "%s\n", line)
	<-ctx.Done()
	srv.Drain()
	return nil
}

// serveMemStats answers where the memory is: heap, goroutine stacks
// (which a heap profile does not show) and the goroutine count.
func serveMemStats(w http.ResponseWriter, _ *http.Request) {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]uint64{
		"heap_inuse": m.HeapInuse, "heap_alloc": m.HeapAlloc, "stack_inuse": m.StackInuse,
		"sys": m.Sys, "goroutines": uint64(runtime.NumGoroutine()),
		"num_gc": uint64(m.NumGC), "pause_total_ns": m.PauseTotalNs, "total_alloc": m.TotalAlloc, "mallocs": m.Mallocs,
	})
}
