package bench

import (
	"strings"
	"testing"
)

func TestParseMetricsSumsLabelledSeries(t *testing.T) {
	text := `# HELP go_goroutines Number of goroutines.
# TYPE go_goroutines gauge
go_goroutines 42
process_open_fds 17
go_memstats_heap_alloc_bytes 1.2582912e+07
ws_connections_active{workspace="a"} 3
ws_connections_active{workspace="b b"} 2
ws_rooms_active 9
`
	m, err := parseMetrics(strings.NewReader(text), soakMetrics)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{"go_goroutines": 42, "process_open_fds": 17, "go_memstats_heap_alloc_bytes": 12582912, "ws_connections_active": 5}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %v, want %v", k, m[k], v)
		}
	}
	if _, ok := m["ws_rooms_active"]; ok {
		t.Error("a family not asked for was read")
	}
	if _, err := parseMetrics(strings.NewReader("go_goroutines NaNx\n"), soakMetrics); err == nil {
		t.Error("a bad value was accepted")
	}
}

func TestSummarizeSoak(t *testing.T) {
	res := &SoakResult{
		DurationS: 10, Cycles: 500, WarmupS: 2,
		Baseline: SoakSample{Seconds: 0, HeapMB: 4, RSSMB: 20, Goroutines: 20, FDs: 12},
		End:      SoakSample{Seconds: 10, HeapMB: 11, RSSMB: 60, Goroutines: 22, FDs: 12},
		Canary:   CanaryStats{Published: 200, Received: 199},
	}
	warm := SoakSample{Seconds: 3, HeapMB: 10, RSSMB: 40, Goroutines: 25, FDs: 20}
	res.Samples = []SoakSample{res.Baseline, {Seconds: 1, HeapMB: 30, RSSMB: 80, Goroutines: 300, FDs: 250, Conns: 9}, warm, res.End}
	summarizeSoak(res)
	if res.Start != warm {
		t.Fatalf("start %+v, want the first reading after the warm-up", res.Start)
	}
	if res.ColdRatios.Heap != 11.0/4 {
		t.Fatalf("end/before %+v", res.ColdRatios)
	}
	if res.Ratios.Heap != 1.1 || res.Ratios.RSS != 1.5 || res.Ratios.Goroutines != 22.0/25 || res.Ratios.FDs != 12.0/20 {
		t.Fatalf("ratios %+v", res.Ratios)
	}
	if res.Peak.HeapMB != 30 || res.Peak.Goroutines != 300 || res.Peak.FDs != 250 || res.Peak.Conns != 9 {
		t.Fatalf("peak %+v", res.Peak)
	}
	if !res.Flat || res.CyclesPerS != 50 {
		t.Fatalf("flat %v, cycles/s %v", res.Flat, res.CyclesPerS)
	}
	if res.Canary.Lost != 1 || res.Canary.LossPercent != 0.5 {
		t.Fatalf("canary %+v", res.Canary)
	}

	res.End.HeapMB = 12.5 // 1.25 × the start
	summarizeSoak(res)
	if res.Flat {
		t.Fatal("a heap 1.25× its start was called flat")
	}
	res.End.HeapMB, res.End.FDs = 11, 18 // fds not back to before the churn
	summarizeSoak(res)
	if res.Flat {
		t.Fatal("fds 6 above the baseline were called flat")
	}
	if ratio(5, 0) != 0 {
		t.Fatal("a ratio over a zero start")
	}
}

func TestThinKeepsEndsAndBound(t *testing.T) {
	s := make([]SoakSample, 121)
	for i := range s {
		s[i].Seconds = float64(i)
	}
	got := thin(s, 14)
	if len(got) != 14 || got[0].Seconds != 0 || got[13].Seconds != 120 {
		t.Fatalf("thin: %d samples, %v … %v", len(got), got[0].Seconds, got[len(got)-1].Seconds)
	}
	if len(thin(s[:5], 14)) != 5 {
		t.Fatal("thin dropped samples under the bound")
	}
}

func TestSoakConfigValidate(t *testing.T) {
	c := DefaultSoakConfig()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, mut := range map[string]func(*SoakConfig){
		"foreign target": func(c *SoakConfig) { c.Target = "http://10.0.0.1:8080" },
		"no duration":    func(c *SoakConfig) { c.Duration = 0 },
		"too long":       func(c *SoakConfig) { c.Duration = 3 * maxSoakDuration },
		"no clients":     func(c *SoakConfig) { c.Clients = 0 },
		"foreign pprof":  func(c *SoakConfig) { c.Pprof = "http://192.168.1.2:6060" },
	} {
		c := DefaultSoakConfig()
		mut(&c)
		if c.Validate() == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
