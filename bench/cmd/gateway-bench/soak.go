package main

import (
	"context"
	"fmt"
	"io"

	"github.com/hyvve/gateway/bench/internal/bench"
)

// runSoak runs the soak scenario and prints its table, JSON line and plot.
func runSoak(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, err := bench.ParseSoakFlags(args, stderr)
	if bench.IsHelp(err) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "gateway-bench soak: %v\n", err)
		return 2
	}
	res, err := bench.RunSoak(ctx, cfg, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "gateway-bench soak: %v\n", err)
		return 1
	}
	if cfg.Format != "json" {
		_ = bench.WriteSoakTable(stdout, res)
	}
	if cfg.Format != "table" {
		_ = bench.WriteSoakJSON(stdout, res)
	}
	if cfg.PlotPath != "" {
		if err := bench.WriteSoakPlot(cfg.PlotPath, res); err != nil {
			fmt.Fprintf(stderr, "gateway-bench soak: plot: %v\n", err)
		}
	}
	return 0
}
