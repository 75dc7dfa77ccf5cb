package bench

import (
	"math"
	"testing"
	"time"
)

func TestPercentileNearestRank(t *testing.T) {
	s := []int64{10, 20, 30, 40, 50, 60, 70, 80, 90, 100}
	for _, tc := range []struct {
		q    float64
		want int64
	}{{0, 10}, {0.1, 10}, {0.11, 20}, {0.5, 50}, {0.9, 90}, {0.91, 100}, {0.99, 100}, {1, 100}} {
		if got := Percentile(s, tc.q); got != tc.want {
			t.Errorf("Percentile(q=%g) = %d, want %d", tc.q, got, tc.want)
		}
	}
	if Percentile(nil, 0.5) != 0 {
		t.Error("no samples must give 0")
	}
	if got := Percentile([]int64{7}, 0.999); got != 7 {
		t.Errorf("one sample: got %d", got)
	}
}

func TestSummarizeThousandSamples(t *testing.T) {
	s := make([]int64, 1000)
	for i := range s { // 1000 ms … 1 ms, unsorted on purpose
		s[i] = int64(1000-i) * int64(time.Millisecond)
	}
	got := Summarize(s)
	want := LatencySummary{Count: 1000, Mean: 500.5, P50: 500, P90: 900, P99: 990, P999: 999, Max: 1000}
	if got != want {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	if Summarize(nil) != (LatencySummary{}) {
		t.Error("no samples must give the zero summary")
	}
}

func TestQuantilesAndMix(t *testing.T) {
	s := []int64{int64(time.Millisecond), int64(3 * time.Millisecond)}
	q := quantiles(s)
	if len(q) != cdfPoints+1 || q[0] != 1 || q[cdfPoints] != 3 {
		t.Fatalf("quantiles: len %d, first %g, last %g", len(q), q[0], q[len(q)-1])
	}
	mixed := mixCDFs([][]float64{q, q})
	if len(mixed) != cdfPoints+1 || mixed[0] != 1 || mixed[cdfPoints] != 3 {
		t.Errorf("mix: first %g, last %g", mixed[0], mixed[cdfPoints])
	}
}

func TestMedian(t *testing.T) {
	xs := []float64{5, 1, 3}
	if Median(xs) != 3 || xs[0] != 5 {
		t.Errorf("odd: %g (input %v must be left alone)", Median(xs), xs)
	}
	if Median([]float64{4, 1, 3, 2}) != 2.5 {
		t.Error("even count must average the middle two")
	}
	if !math.IsNaN(Median(nil)) {
		t.Error("no values must give NaN")
	}
}
