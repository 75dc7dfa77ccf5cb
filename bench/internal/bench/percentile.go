package bench

import (
	"math"
	"slices"
	"time"
)

// Percentile returns the q-quantile (0 ≤ q ≤ 1) of sorted by the
// nearest-rank method: the smallest sample with at least q of the samples
// at or below it. It returns 0 for no samples.
func Percentile(sorted []int64, q float64) int64 {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	rank := int(math.Ceil(q * float64(n)))
	return sorted[min(max(rank, 1), n)-1]
}

// LatencySummary is the distribution of delivery latencies, in milliseconds.
type LatencySummary struct {
	Count int     `json:"count"`
	Mean  float64 `json:"mean_ms"`
	P50   float64 `json:"p50_ms"`
	P90   float64 `json:"p90_ms"`
	P99   float64 `json:"p99_ms"`
	P999  float64 `json:"p999_ms"`
	Max   float64 `json:"max_ms"`
}

// Summarize sorts samples (nanoseconds) in place and summarises them.
func Summarize(samples []int64) LatencySummary {
	slices.Sort(samples)
	s := LatencySummary{Count: len(samples)}
	if len(samples) == 0 {
		return s
	}
	var sum float64
	for _, v := range samples {
		sum += float64(v)
	}
	s.Mean = ms(sum / float64(len(samples)))
	s.P50 = ms(float64(Percentile(samples, 0.50)))
	s.P90 = ms(float64(Percentile(samples, 0.90)))
	s.P99 = ms(float64(Percentile(samples, 0.99)))
	s.P999 = ms(float64(Percentile(samples, 0.999)))
	s.Max = ms(float64(samples[len(samples)-1]))
	return s
}

// cdfPoints is how many quantiles a Result keeps for plotting.
const cdfPoints = 1000

// quantiles returns cdfPoints+1 evenly spaced quantiles (0, 0.001, …, 1)
// of sorted, in milliseconds: a distribution small enough to keep for
// every run and to plot.
func quantiles(sorted []int64) []float64 {
	if len(sorted) == 0 {
		return nil
	}
	out := make([]float64, cdfPoints+1)
	for i := range out {
		out[i] = ms(float64(Percentile(sorted, float64(i)/cdfPoints)))
	}
	return out
}

// Median returns the median of xs (the mean of the middle two for an even
// count), without changing xs; NaN for none.
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if n := len(s); n%2 == 1 {
		return s[n/2]
	} else {
		return (s[n/2-1] + s[n/2]) / 2
	}
}

func ms(ns float64) float64 { return ns / float64(time.Millisecond) }
