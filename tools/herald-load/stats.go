package main

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// Latency summarises a set of durations, in milliseconds for the JSON
// result.
type Latency struct {
	Count int     `json:"count"`
	P50   float64 `json:"p50_ms"`
	P90   float64 `json:"p90_ms"`
	P99   float64 `json:"p99_ms"`
	Max   float64 `json:"max_ms"`
	Mean  float64 `json:"mean_ms"`
}

// summarize sorts ds in place and returns its percentiles by nearest rank.
func summarize(ds []time.Duration) Latency {
	if len(ds) == 0 {
		return Latency{}
	}
	slices.Sort(ds)
	var sum time.Duration
	for _, d := range ds {
		sum += d
	}
	rank := func(p float64) float64 {
		return ms(ds[max(1, int(math.Ceil(p/100*float64(len(ds)))))-1])
	}
	return Latency{Count: len(ds), P50: rank(50), P90: rank(90), P99: rank(99), Max: ms(ds[len(ds)-1]), Mean: ms(sum / time.Duration(len(ds)))}
}

func (l Latency) String() string {
	return fmt.Sprintf("p50 %.0f ms, p90 %.0f ms, p99 %.0f ms, max %.0f ms (n=%d)", l.P50, l.P90, l.P99, l.Max, l.Count)
}

func ms(d time.Duration) float64 {
	return math.Round(float64(d)/float64(time.Microsecond)) / 1000
}

func round2(f float64) float64 { return float64(int64(f*100+0.5)) / 100 }

// perSecond counts times into one-second buckets from start, over n
// seconds; times outside are dropped.
func perSecond(start time.Time, times []time.Time, n int) []int {
	buckets := make([]int, n)
	for _, t := range times {
		i := int(t.Sub(start) / time.Second)
		if !t.Before(start) && i < n {
			buckets[i]++
		}
	}
	return buckets
}

// cdf gives the points of an empirical distribution of sorted durations, in
// milliseconds, thinned to about limit points.
func cdf(sorted []time.Duration, limit int) []point {
	step := max(1, len(sorted)/limit)
	var pts []point
	for i := 0; i < len(sorted); i += step {
		pts = append(pts, point{ms(sorted[i]), float64(i+1) / float64(len(sorted))})
	}
	if last := len(sorted) - 1; last%step != 0 {
		pts = append(pts, point{ms(sorted[last]), 1})
	}
	return pts
}

// steps are per-second counts as steps: count i spans [i, i+1).
func steps(counts []int) []point {
	var pts []point
	for i, n := range counts {
		pts = append(pts, point{float64(i), float64(n)})
	}
	if len(counts) > 0 {
		pts = append(pts, point{float64(len(counts)), float64(counts[len(counts)-1])})
	}
	return pts
}
