package main

import (
	"context"
	"fmt"
	"io"

	"github.com/hyvve/gateway/bench/internal/bench"
)

// runCluster runs the cross-node fan-out comparison (one gateway against
// several clustered over embedded NATS; with -recovery each with recovery
// on and off) and writes its files. It exits 1
// when the run or any measurement failed.
func runCluster(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cc, err := bench.ParseClusterFlags(args, stderr)
	if bench.IsHelp(err) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "gateway-bench cluster: %v\n", err)
		return 2
	}
	cmp, runErr := bench.RunClusterComparison(ctx, cc, stderr)
	if cmp != nil && len(cmp.Measurements) > 0 {
		_ = cmp.WriteMarkdown(stdout)
		files, err := cmp.WriteFiles()
		for _, f := range files {
			fmt.Fprintf(stderr, "wrote %s\n", f)
		}
		if err != nil {
			fmt.Fprintf(stderr, "gateway-bench cluster: %v\n", err)
			return 1
		}
	}
	if runErr != nil {
		fmt.Fprintf(stderr, "gateway-bench cluster: %v\n", runErr)
		return 1
	}
	if failed := cmp.Failed(); failed > 0 {
		fmt.Fprintf(stderr, "gateway-bench cluster: %d of %d measurements failed (see the markdown and logs)\n", failed, len(cmp.Measurements))
		return 1
	}
	return 0
}
