package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
)

// WriteHerdMarkdown writes the medians per variant and every round.
func WriteHerdMarkdown(w io.Writer, hc HerdConfig, rs []HerdResult) error {
	var b strings.Builder
	fmt.Fprintf(&b, "## Reconnect herd — %d WebSocket clients on node a (%d rooms), SIGTERM (SHUTDOWN_TIMEOUT=%s), each reconnecting to node b at once%s\n\n",
		hc.Clients, hc.Rooms, hc.ShutdownTimeout, map[bool]string{true: " (a and b clustered)", false: ""}[hc.Cluster])
	fmt.Fprintf(&b, "Machine: %s. %d rounds, node a's variants in rotation; window %s.\n\n", machineText(), hc.Rounds, hc.Window)
	b.WriteString("| node a | back | told (DISCONNECT) | closes over | peak reconnects / window | median / window | time to all back | close → back p50 / p99 | b CPU | retries |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, v := range hc.Variants {
		var ms []HerdResult
		for _, r := range rs {
			if r.Variant == v.Label && r.Err == "" {
				ms = append(ms, r)
			}
		}
		med := func(f func(HerdResult) float64) float64 {
			var xs []float64
			for _, r := range ms {
				xs = append(xs, f(r))
			}
			return Median(xs)
		}
		fmt.Fprintf(&b, "| %s (%d ok) | %.0f | %.0f | %.2f s | %.0f | %.0f | %.2f s | %.0f / %.0f ms | %.2f s | %.0f |\n", v.Label, len(ms),
			med(func(r HerdResult) float64 { return float64(r.Back) }), med(func(r HerdResult) float64 { return float64(r.Told) }),
			med(func(r HerdResult) float64 { return r.LastClose - r.FirstClose }),
			med(func(r HerdResult) float64 { return float64(r.PeakPerWin) }), med(func(r HerdResult) float64 { return r.MedianPerWin }),
			med(func(r HerdResult) float64 { return r.AllBack }),
			med(func(r HerdResult) float64 { return r.ReconnectMS[0] }), med(func(r HerdResult) float64 { return r.ReconnectMS[1] }),
			med(func(r HerdResult) float64 { return r.BCPUSeconds }), med(func(r HerdResult) float64 { return float64(r.Retries) }))
	}
	b.WriteString("\nEvery round:\n\n")
	for _, r := range rs {
		b.WriteString("- " + r.summary() + "\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteHerdFiles writes herd.md and herd.jsonl into hc.OutDir.
func WriteHerdFiles(hc HerdConfig, rs []HerdResult) ([]string, error) {
	o, err := newOutDir(hc.OutDir)
	if err != nil {
		return nil, err
	}
	if err := o.write(herdFileStem+".md", func(w io.Writer) error { return WriteHerdMarkdown(w, hc, rs) }); err != nil {
		return o.written, err
	}
	err = o.write(herdFileStem+".jsonl", func(w io.Writer) error {
		enc := json.NewEncoder(w)
		for _, r := range rs {
			if err := enc.Encode(r); err != nil {
				return err
			}
		}
		return nil
	})
	return o.written, err
}

// readLoad1 is the one-minute load average (0 when unreadable).
func readLoad1() float64 {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	var l float64
	_, _ = fmt.Sscan(string(data), &l)
	return l
}
