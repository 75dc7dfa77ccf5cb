// Command gateway-bench is the gateway's load tool (package bench): it runs
// one scenario against a server on this machine, or compares several
// servers on the same workloads.
//
//	gateway-bench fanout|rooms|burst|storm|idle|chaos|soak [flags]
//	gateway-bench compare [flags]
//	gateway-bench cluster [flags]
//	gateway-bench herd -a LABEL=BINARY[,…] [flags]
//	gateway-bench chaos-kill [flags]
//	gateway-bench help [scenario|compare|cluster|herd|chaos-kill]
//
// A scenario's -target may list several nodes' base URLs: the subscribers
// are spread over them and publishes go to the first (or -publish-target).
// cluster compares one gateway with several clustered over embedded NATS.
//
// Run from bench/, the load tool's own module (compare and cluster build
// the repository root's ./cmd/gateway, compare also bench/peers/rawfloor,
// and starts bench/peers/node-socketio; -repo names the root, default "..").
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `usage:
  gateway-bench SCENARIO [flags]   run one scenario against a running server
  gateway-bench compare [flags]    start each peer in turn and compare them
  gateway-bench cluster [flags]    fan-out on one gateway vs 3 clustered over embedded NATS
                                   (-recovery: each with connection state recovery on vs off;
                                   the burst shape: -rate 0 -clients 5000 -messages 1000 -publishers 8)
  gateway-bench herd -a LABEL=BIN[,…]  SIGTERM node a, its clients reconnecting to node b: reconnects per window
  gateway-bench chaos-kill [flags]  3 clustered gateways, one SIGKILLed and restarted every 20 s under a numbered
                                   stream: recovering subscribers' loss, duplicates, reordering, time back
  gateway-bench help [SCENARIO|compare|cluster|herd|chaos-kill]

scenarios:
  fanout   N subscribers in one room, M messages at P msg/s   (default 1000, 500 at 50/s)
  rooms    N subscribers in R rooms, round-robin              (default 5000 in 20 rooms)
  burst    M messages as fast as the publish path accepts     (default 5000 subs, 1000 msgs)
  storm    N clients connect, authenticate and join           (default 9000)
  idle     server RSS per connection at N idle clients        (default 9000)
  chaos    fan-out while faults hit rooms and connections     (default 1000 subs, 10 rooms)
  soak     churn (connect, join, publish, leave, half by TCP reset) for -duration
           while a canary measures loss; server heap/goroutines/fds over time (default 10m)

-quick makes any of them a ~20 s smoke run. Targets must be loopback;
-target http://A,http://B,… spreads the subscribers over several nodes
(publishing on the first, or -publish-target).
`

// run dispatches the subcommand and returns the exit code: 0 done, 1 the
// run failed, 2 bad usage.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		if len(args) > 1 {
			return run(ctx, []string{args[1], "-h"}, stdout, stderr)
		}
		fmt.Fprint(stdout, usage)
		return 0
	case "compare":
		return runCompare(ctx, args[1:], stdout, stderr)
	case "cluster":
		return runCluster(ctx, args[1:], stdout, stderr)
	case "soak":
		return runSoak(ctx, args[1:], stdout, stderr)
	case "herd":
		return runHerd(ctx, args[1:], stdout, stderr)
	case "chaos-kill":
		return runChaosKill(ctx, args[1:], stdout, stderr)
	default:
		return runScenario(ctx, args[0], args[1:], stdout, stderr)
	}
}
