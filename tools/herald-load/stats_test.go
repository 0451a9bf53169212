package main

import (
	"testing"
	"time"
)

func TestSummarize(t *testing.T) {
	var ds []time.Duration
	for i := 100; i >= 1; i-- {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	got := summarize(ds)
	want := Latency{Count: 100, P50: 50, P90: 90, P99: 99, Max: 100, Mean: 50.5}
	if got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if got := summarize(nil); got != (Latency{}) {
		t.Errorf("empty: got %+v", got)
	}
	if got := summarize([]time.Duration{7 * time.Millisecond}); got.P50 != 7 || got.P99 != 7 || got.Max != 7 {
		t.Errorf("one value: got %+v", got)
	}
}

func TestPerSecond(t *testing.T) {
	start := time.Unix(1000, 0)
	times := []time.Time{start, start.Add(999 * time.Millisecond), start.Add(time.Second), start.Add(-time.Millisecond), start.Add(3 * time.Second)}
	got := perSecond(start, times, 3)
	if want := []int{2, 1, 0}; len(got) != 3 || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestCDFEndsAtOne(t *testing.T) {
	var ds []time.Duration
	for i := 1; i <= 1001; i++ {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	pts := cdf(ds, 100)
	if len(pts) > 110 {
		t.Errorf("%d points; want about 100", len(pts))
	}
	if last := pts[len(pts)-1]; last.x != 1001 || last.y != 1 {
		t.Errorf("last point %+v; want {1001 1}", last)
	}
	for i := 1; i < len(pts); i++ {
		if pts[i].x < pts[i-1].x || pts[i].y <= pts[i-1].y {
			t.Fatalf("not increasing at %d: %+v then %+v", i, pts[i-1], pts[i])
		}
	}
}
