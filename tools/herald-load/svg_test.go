package main

import (
	"encoding/xml"
	"strings"
	"testing"
)

func TestChartIsWellFormedSVG(t *testing.T) {
	for name, c := range map[string]chart{
		"log x": {title: "latency <CDF>", logX: true, series: []series{
			{name: "ack", points: []point{{3, 0.1}, {12, 0.5}, {800, 1}}},
			{name: "e2e", points: []point{{0, 0.2}, {40, 1}}},
		}},
		"steps": {title: "throughput", series: []series{{name: "deliveries/s", step: true, points: []point{{0, 4}, {1, 9}, {2, 7}}}}},
		"empty": {title: "nothing"},
	} {
		out := c.svg()
		dec := xml.NewDecoder(strings.NewReader(string(out)))
		for {
			_, err := dec.Token()
			if err != nil {
				if err.Error() != "EOF" {
					t.Errorf("%s: not well-formed XML: %v\n%s", name, err, out)
				}
				break
			}
		}
		if got := strings.Count(string(out), "<polyline"); got != len(c.series) {
			t.Errorf("%s: %d lines; want %d", name, got, len(c.series))
		}
		if strings.Contains(string(out), "NaN") || strings.Contains(string(out), "Inf") {
			t.Errorf("%s: coordinates are not numbers:\n%s", name, out)
		}
	}
}

func TestLinearTicks(t *testing.T) {
	for _, tc := range []struct {
		lo, hi float64
		want   []float64
	}{
		{0, 1, []float64{0, 0.2, 0.4, 0.6, 0.8, 1}},
		{0, 47, []float64{0, 10, 20, 30, 40}},
		{0, 120, []float64{0, 50, 100}},
	} {
		got := linearTicks(tc.lo, tc.hi)
		if len(got) != len(tc.want) {
			t.Errorf("ticks(%v, %v) = %v; want %v", tc.lo, tc.hi, got, tc.want)
			continue
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("ticks(%v, %v) = %v; want %v", tc.lo, tc.hi, got, tc.want)
				break
			}
		}
	}
}
