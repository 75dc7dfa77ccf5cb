package bench

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// SoakSample is one reading of the server.
type SoakSample struct {
	Seconds     float64 `json:"t_s"`
	RSSMB       float64 `json:"rss_mb"`
	HeapMB      float64 `json:"heap_mb"` // go_memstats_heap_alloc_bytes: the live heap when a GC was forced
	HeapInuseMB float64 `json:"heap_inuse_mb"`
	Goroutines  float64 `json:"goroutines"`
	FDs         float64 `json:"fds"`
	Conns       float64 `json:"connections"`
	Cycles      int64   `json:"cycles"`
}

// SoakRatios are end/start of each reading.
type SoakRatios struct {
	RSS        float64 `json:"rss"`
	Heap       float64 `json:"heap"`
	Goroutines float64 `json:"goroutines"`
	FDs        float64 `json:"fds"`
}

// CanaryStats are what the canary measured.
type CanaryStats struct {
	Published   int            `json:"published"`
	Received    int            `json:"received"`
	Lost        int            `json:"lost"`
	LossPercent float64        `json:"loss_percent"`
	Duplicates  int            `json:"duplicates"`
	Disconnects int            `json:"disconnects"`
	Latency     LatencySummary `json:"latency"`
}

// SoakResult is a soak run's outcome.
type SoakResult struct {
	Scenario    string       `json:"scenario"`
	Target      string       `json:"target"`
	Clients     int          `json:"clients"`
	DurationS   float64      `json:"duration_s"`
	Cycles      int64        `json:"cycles"`
	CyclesPerS  float64      `json:"cycles_per_s"`
	CycleErrors int64        `json:"cycle_errors"`
	Resets      int64        `json:"tcp_resets"`
	GCForced    bool         `json:"gc_forced"`
	WarmupS     float64      `json:"warmup_s"`
	Baseline    SoakSample   `json:"baseline"` // before any churn
	Start       SoakSample   `json:"start"`    // the first reading after the warm-up: what the end is compared with
	Peak        SoakSample   `json:"peak"`
	End         SoakSample   `json:"end"`
	Ratios      SoakRatios   `json:"end_over_start"`
	ColdRatios  SoakRatios   `json:"end_over_baseline"`
	Flat        bool         `json:"flat"`
	Canary      CanaryStats  `json:"canary"`
	Samples     []SoakSample `json:"samples"`
	Errors      []string     `json:"errors,omitempty"`
}

// Flatness bounds: the goal (live heap end/start ≤ 1.2; goroutines
// and fds back to the start, give or take a few in flight).
const (
	flatHeapRatio = 1.2
	flatSlack     = 5
)

// ratio is end/start, 0 when start is not positive.
func ratio(end, start float64) float64 {
	if start <= 0 {
		return 0
	}
	return end / start
}

// ratios are end/start of each reading.
func ratios(e, s SoakSample) SoakRatios {
	return SoakRatios{RSS: ratio(e.RSSMB, s.RSSMB), Heap: ratio(e.HeapMB, s.HeapMB),
		Goroutines: ratio(e.Goroutines, s.Goroutines), FDs: ratio(e.FDs, s.FDs)}
}

// summarizeSoak fills the derived fields of res from its samples: Start is
// the first sample at or after WarmupS (the baseline without a warm-up).
// Goroutines and fds are compared with the baseline: once the churn has
// ended they must be back where they were before it began.
func summarizeSoak(res *SoakResult) {
	res.Start = res.Baseline
	for _, x := range res.Samples {
		if x.Seconds-res.Baseline.Seconds >= res.WarmupS {
			res.Start = x
			break
		}
	}
	s, e, b := res.Start, res.End, res.Baseline
	res.Ratios, res.ColdRatios = ratios(e, s), ratios(e, b)
	for _, x := range res.Samples {
		if x.HeapMB > res.Peak.HeapMB {
			res.Peak.HeapMB = x.HeapMB
		}
		res.Peak.RSSMB = max(res.Peak.RSSMB, x.RSSMB)
		res.Peak.HeapInuseMB = max(res.Peak.HeapInuseMB, x.HeapInuseMB)
		res.Peak.Goroutines = max(res.Peak.Goroutines, x.Goroutines)
		res.Peak.FDs = max(res.Peak.FDs, x.FDs)
		res.Peak.Conns = max(res.Peak.Conns, x.Conns)
	}
	res.Flat = res.Ratios.Heap > 0 && res.Ratios.Heap <= flatHeapRatio &&
		e.Goroutines <= b.Goroutines+flatSlack && e.FDs <= b.FDs+flatSlack
	if res.DurationS > 0 {
		res.CyclesPerS = float64(res.Cycles) / res.DurationS
	}
	c := &res.Canary
	c.Lost = max(c.Published-c.Received, 0)
	if c.Published > 0 {
		c.LossPercent = 100 * float64(c.Lost) / float64(c.Published)
	}
}

// parseMetrics reads the Prometheus text format: the value of each sample
// of the families in want, summed over their labels.
func parseMetrics(r io.Reader, want map[string]bool) (map[string]float64, error) {
	out := map[string]float64{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		name := line
		if i := strings.IndexAny(line, "{ "); i >= 0 {
			name = line[:i]
		}
		if !want[name] {
			continue
		}
		f := strings.Fields(line[strings.LastIndexByte(line, '}')+1:])
		if strings.IndexByte(line, '}') < 0 {
			f = strings.Fields(line)[1:]
		}
		if len(f) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			return nil, fmt.Errorf("bench: metric line %q: %w", line, err)
		}
		out[name] += v
	}
	return out, sc.Err()
}

var soakMetrics = map[string]bool{
	"process_resident_memory_bytes": true, "go_memstats_heap_alloc_bytes": true,
	"go_memstats_heap_inuse_bytes": true, "go_goroutines": true, "process_open_fds": true,
	"ws_connections_active": true,
}

// WriteSoakTable writes the readings and the verdict as text.
func WriteSoakTable(w io.Writer, res *SoakResult) error {
	var b strings.Builder
	fmt.Fprintf(&b, "soak against %s: %d churners for %.0f s, %d cycles (%.0f/s, %d failed, %d by TCP reset); GC forced before readings: %v\n\n",
		res.Target, res.Clients, res.DurationS, res.Cycles, res.CyclesPerS, res.CycleErrors, res.Resets, res.GCForced)
	fmt.Fprintf(&b, "| t (s) | RSS (MB) | heap (MB) | heap in use (MB) | goroutines | fds | connections | cycles |\n|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, s := range thin(res.Samples, 14) {
		fmt.Fprintf(&b, "| %.0f | %.1f | %.1f | %.1f | %.0f | %.0f | %.0f | %d |\n", s.Seconds, s.RSSMB, s.HeapMB, s.HeapInuseMB, s.Goroutines, s.FDs, s.Conns, s.Cycles)
	}
	c0, s, e, p := res.Baseline, res.Start, res.End, res.Peak
	fmt.Fprintf(&b, "\n| | before churn | start (t=%.0fs) | peak | end | end/start | end/before |\n|---|---:|---:|---:|---:|---:|---:|\n", s.Seconds)
	fmt.Fprintf(&b, "| live heap (MB) | %.1f | %.1f | %.1f | %.1f | %.2f | %.2f |\n", c0.HeapMB, s.HeapMB, p.HeapMB, e.HeapMB, res.Ratios.Heap, res.ColdRatios.Heap)
	fmt.Fprintf(&b, "| RSS (MB) | %.1f | %.1f | %.1f | %.1f | %.2f | %.2f |\n", c0.RSSMB, s.RSSMB, p.RSSMB, e.RSSMB, res.Ratios.RSS, res.ColdRatios.RSS)
	fmt.Fprintf(&b, "| goroutines | %.0f | %.0f | %.0f | %.0f | %.2f | %.2f |\n", c0.Goroutines, s.Goroutines, p.Goroutines, e.Goroutines, res.Ratios.Goroutines, res.ColdRatios.Goroutines)
	fmt.Fprintf(&b, "| open fds | %.0f | %.0f | %.0f | %.0f | %.2f | %.2f |\n", c0.FDs, s.FDs, p.FDs, e.FDs, res.Ratios.FDs, res.ColdRatios.FDs)
	c := res.Canary
	fmt.Fprintf(&b, "\ncanary: %d published, %d received, %d lost (%.3f%%), %d duplicates, %d disconnects; latency %s\n",
		c.Published, c.Received, c.Lost, c.LossPercent, c.Duplicates, c.Disconnects, latencyText(c.Latency))
	verdict := "flat"
	if !res.Flat {
		verdict = "NOT flat"
	}
	fmt.Fprintf(&b, "verdict: %s (live heap end/start ≤ %.1f after a %.0f s warm-up; goroutines and fds within %d of before the churn)\n", verdict, flatHeapRatio, res.WarmupS, flatSlack)
	if len(res.Errors) > 0 {
		fmt.Fprintf(&b, "errors: %s\n", strings.Join(res.Errors, "; "))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteSoakJSON writes res as one JSON line.
func WriteSoakJSON(w io.Writer, res *SoakResult) error {
	b, err := json.Marshal(res)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// thin keeps at most n samples, evenly spread, always the first and last.
func thin(s []SoakSample, n int) []SoakSample {
	if len(s) <= n || n < 2 {
		return s
	}
	out := make([]SoakSample, 0, n)
	for i := range n {
		out = append(out, s[int(math.Round(float64(i)*float64(len(s)-1)/float64(n-1)))])
	}
	return out
}
