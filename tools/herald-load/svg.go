package main

import (
	"bytes"
	"fmt"
	"html"
	"math"
	"strconv"
	"strings"
)

// A small SVG line-chart writer: enough for a latency distribution and a
// throughput series, with no dependency and byte-for-byte stable output for
// the same data.

type point struct{ x, y float64 }

type series struct {
	name   string
	points []point
	step   bool // draw as steps: each point's y holds until the next point's x
}

type chart struct {
	title, xLabel, yLabel string
	logX                  bool
	series                []series
	notes                 []string // lines under the title
}

const (
	chartW, plotH             = 760, 340
	marginL, marginR, marginB = 70, 24, 56
)

var palette = []string{"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"}

func (c chart) svg() []byte {
	// The header holds the title, the notes and the legend, a line each.
	top := 34 + 14*len(c.notes) + 16*len(c.series) + 6
	height := top + plotH + marginB
	var b bytes.Buffer
	line := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	line(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="DejaVu Sans, Arial, sans-serif" font-size="12">`, chartW, height, chartW, height)
	line(`<rect width="%d" height="%d" fill="white"/>`, chartW, height)
	line(`<text x="%d" y="20" font-size="15" font-weight="bold">%s</text>`, marginL, html.EscapeString(c.title))
	for i, n := range c.notes {
		line(`<text x="%d" y="%d" fill="#555">%s</text>`, marginL, 37+14*i, html.EscapeString(n))
	}
	for i, s := range c.series {
		y := 37 + 14*len(c.notes) + 4 + 16*i
		line(`<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="3"/>`, marginL, y-4, marginL+18, y-4, palette[i%len(palette)])
		line(`<text x="%d" y="%d">%s</text>`, marginL+24, y, html.EscapeString(s.name))
	}

	x0, x1, y1 := c.bounds()
	pw, ph, t0 := float64(chartW-marginL-marginR), float64(plotH), float64(top)
	scale := func(x float64) float64 { return x }
	if c.logX {
		scale = math.Log10
		x0, x1 = max(x0, 1e-300), max(x1, 1e-300)
	}
	px := func(x float64) float64 { return marginL + pw*(scale(max(x, x0))-scale(x0))/(scale(x1)-scale(x0)) }
	py := func(y float64) float64 { return t0 + ph*(1-y/y1) }
	for _, t := range c.xTicks(x0, x1) {
		line(`<line x1="%.1f" y1="%d" x2="%.1f" y2="%.1f" stroke="#e5e5e5"/>`, px(t), top, px(t), t0+ph)
		line(`<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`, px(t), t0+ph+16, label(t))
	}
	for _, t := range linearTicks(0, y1) {
		line(`<line x1="%d" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#e5e5e5"/>`, marginL, py(t), marginL+pw, py(t))
		line(`<text x="%d" y="%.1f" text-anchor="end">%s</text>`, marginL-6, py(t)+4, label(t))
	}
	line(`<rect x="%d" y="%d" width="%.0f" height="%.0f" fill="none" stroke="#333"/>`, marginL, top, pw, ph)
	line(`<text x="%.1f" y="%d" text-anchor="middle">%s</text>`, marginL+pw/2, height-12, html.EscapeString(c.xLabel))
	line(`<text transform="translate(16 %.1f) rotate(-90)" text-anchor="middle">%s</text>`, t0+ph/2, html.EscapeString(c.yLabel))
	for i, s := range c.series {
		var pts []string
		for j, p := range s.points {
			if s.step && j > 0 {
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", px(p.x), py(s.points[j-1].y)))
			}
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", px(p.x), py(p.y)))
		}
		line(`<polyline fill="none" stroke="%s" stroke-width="1.8" points="%s"/>`, palette[i%len(palette)], strings.Join(pts, " "))
	}
	b.WriteString("</svg>\n")
	return b.Bytes()
}

// bounds are the axes' ranges: x over every point (whole decades on a log
// scale), y from 0 to a tick above the highest point.
func (c chart) bounds() (x0, x1, y1 float64) {
	x0, x1, y1 = math.Inf(1), math.Inf(-1), 0
	for _, s := range c.series {
		for _, p := range s.points {
			if !c.logX || p.x > 0 {
				x0, x1, y1 = min(x0, p.x), max(x1, p.x), max(y1, p.y)
			}
		}
	}
	if math.IsInf(x0, 1) {
		x0, x1 = 1, 1
	}
	if c.logX {
		x0 = math.Pow(10, math.Floor(math.Log10(x0)))
		x1 = max(x0*10, math.Pow(10, math.Ceil(math.Log10(x1))))
	} else if x1 <= x0 {
		x1 = x0 + 1
	}
	if y1 <= 0 {
		y1 = 1
	}
	ticks := linearTicks(0, y1)
	top := ticks[len(ticks)-1]
	if top < y1 {
		top += ticks[1] - ticks[0]
	}
	return x0, x1, top
}

func (c chart) xTicks(x0, x1 float64) []float64 {
	if !c.logX {
		return linearTicks(x0, x1)
	}
	var ticks []float64
	for d := x0; d <= x1*1.0001; d *= 10 {
		for _, m := range []float64{1, 2, 5} {
			if t := d * m; t <= x1*1.0001 {
				ticks = append(ticks, t)
			}
		}
	}
	return ticks
}

// linearTicks are about five round steps (1, 2 or 5 × 10^n) covering
// [lo, hi].
func linearTicks(lo, hi float64) []float64 {
	raw := (hi - lo) / 5
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 5, 10} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	var ticks []float64
	for k := math.Ceil(lo / step); k*step <= hi+step*1e-9; k++ {
		// k·step, rid of binary noise (0.6, not 0.6000000000000001).
		t, _ := strconv.ParseFloat(strconv.FormatFloat(k*step, 'g', 12, 64), 64)
		ticks = append(ticks, t)
	}
	if len(ticks) < 2 {
		ticks = append(ticks, ticks[len(ticks)-1]+step)
	}
	return ticks
}

func label(v float64) string {
	if v >= 10000 && v == math.Trunc(v) {
		return strconv.FormatFloat(v/1000, 'f', -1, 64) + "k"
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}
