package main

import (
	"context"
	"fmt"
	"io"

	"github.com/hyvve/gateway/bench/internal/bench"
)

// runScenario runs one scenario and prints its table, JSON line and plot.
func runScenario(ctx context.Context, name string, args []string, stdout, stderr io.Writer) int {
	s, err := bench.ParseScenario(name)
	if err != nil {
		fmt.Fprintf(stderr, "gateway-bench: %v\n\n%s", err, usage)
		return 2
	}
	cfg, err := bench.ParseRunFlags(s, args, stderr)
	if bench.IsHelp(err) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "gateway-bench %s: %v\n", name, err)
		return 2
	}
	res, runErr := bench.Run(ctx, cfg, stderr)
	if res != nil {
		if cfg.Format != "json" {
			_ = bench.WriteTable(stdout, res)
		}
		if cfg.Format != "table" {
			_ = bench.WriteJSON(stdout, res)
		}
		if cfg.PlotPath != "" {
			if err := bench.WritePlot(cfg.PlotPath, string(s)+" delivery latency", []bench.Series{{Name: cfg.Target, CDF: res.CDF}}); err != nil {
				fmt.Fprintf(stderr, "gateway-bench: plot: %v\n", err)
			}
		}
	}
	if runErr != nil {
		fmt.Fprintf(stderr, "gateway-bench %s: %v\n", name, runErr)
		return 1
	}
	return 0
}
