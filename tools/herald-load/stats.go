package main

import (
	"math"
	"sort"
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
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	var sum time.Duration
	for _, d := range ds {
		sum += d
	}
	return Latency{
		Count: len(ds),
		P50:   ms(percentile(ds, 50)),
		P90:   ms(percentile(ds, 90)),
		P99:   ms(percentile(ds, 99)),
		Max:   ms(ds[len(ds)-1]),
		Mean:  ms(sum / time.Duration(len(ds))),
	}
}

// percentile is the nearest-rank percentile of sorted durations.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = max(1, min(rank, len(sorted)))
	return sorted[rank-1]
}

func ms(d time.Duration) float64 {
	return math.Round(float64(d)/float64(time.Microsecond)) / 1000
}

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
	if len(sorted) == 0 {
		return nil
	}
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
