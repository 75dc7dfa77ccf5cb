package main

import (
	"context"
	"fmt"
	"io"

	"github.com/hyvve/gateway/bench/internal/bench"
)

// runCompare runs the side-by-side comparison and writes its files.
func runCompare(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cc, err := bench.ParseCompareFlags(args, stderr)
	if bench.IsHelp(err) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "gateway-bench compare: %v\n", err)
		return 2
	}
	cmp, runErr := bench.Compare(ctx, cc, stderr)
	if cmp != nil && len(cmp.Measurements) > 0 {
		_ = cmp.WriteMarkdown(stdout)
		files, err := cmp.WriteFiles()
		for _, f := range files {
			fmt.Fprintf(stderr, "wrote %s\n", f)
		}
		if err != nil {
			fmt.Fprintf(stderr, "gateway-bench compare: %v\n", err)
			return 1
		}
	}
	if runErr != nil {
		fmt.Fprintf(stderr, "gateway-bench compare: %v\n", runErr)
		return 1
	}
	return 0
}
