package main

import (
	"context"
	"fmt"
	"io"

	"github.com/hyvve/gateway/bench/internal/bench"
)

// runHerd runs the reconnect herd and writes its files. It exits 1 when
// the run or any measurement failed.
func runHerd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	hc, err := bench.ParseHerdFlags(args, stderr)
	if bench.IsHelp(err) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "gateway-bench herd: %v\n", err)
		return 2
	}
	rs, runErr := bench.RunHerd(ctx, hc, stderr)
	if len(rs) > 0 {
		_ = bench.WriteHerdMarkdown(stdout, hc, rs)
		files, err := bench.WriteHerdFiles(hc, rs)
		for _, f := range files {
			fmt.Fprintf(stderr, "wrote %s\n", f)
		}
		if err != nil {
			fmt.Fprintf(stderr, "gateway-bench herd: %v\n", err)
			return 1
		}
	}
	if runErr != nil {
		fmt.Fprintf(stderr, "gateway-bench herd: %v\n", runErr)
		return 1
	}
	for _, r := range rs {
		if r.Err != "" {
			return 1
		}
	}
	return 0
}
