package main

import (
	"context"
	"fmt"
	"io"

	"github.com/hyvve/gateway/bench/internal/bench"
)

// runChaosKill runs the chaos-kill scenario and writes its files. It exits
// 1 when the run failed or a subscriber back within the recovery window
// lost, repeated or reordered a number.
func runChaosKill(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	kc, err := bench.ParseKillFlags(args, stderr)
	if bench.IsHelp(err) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "gateway-bench chaos-kill: %v\n", err)
		return 2
	}
	r, runErr := bench.RunKill(ctx, kc, stderr)
	if runErr != nil {
		fmt.Fprintf(stderr, "gateway-bench chaos-kill: %v\n", runErr)
		return 1
	}
	_ = bench.WriteKillMarkdown(stdout, kc, r)
	files, err := bench.WriteKillFiles(kc, r)
	for _, f := range files {
		fmt.Fprintf(stderr, "wrote %s\n", f)
	}
	if err != nil {
		fmt.Fprintf(stderr, "gateway-bench chaos-kill: %v\n", err)
		return 1
	}
	if !r.OK() {
		return 1
	}
	return 0
}
