package bench

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// Series is one target's latency distribution: the latency (ms) at the
// quantiles 0, 1/cdfPoints, …, 1 (Result.CDF).
type Series struct {
	Name string
	CDF  []float64
}

// Panel is one plot of a figure: a title and its series.
type Panel struct {
	Title  string
	Series []Series
}

// Plot geometry and the smallest latency drawn (a log axis has no zero).
const (
	panelWidth  = 7 * vg.Inch
	panelHeight = 4.5 * vg.Inch
	plotDPI     = 96
	minPlotMs   = 0.01
	lineWidth   = 1.5
)

// WritePlot writes one CDF plot of series to a PNG file.
func WritePlot(path, title string, series []Series) error {
	return WritePlotGrid(path, []Panel{{Title: title, Series: series}})
}

// WritePlotGrid writes panels side by side (two per row) to a PNG file.
func WritePlotGrid(path string, panels []Panel) error {
	if len(panels) == 0 {
		return fmt.Errorf("bench: nothing to plot")
	}
	cols := min(len(panels), 2)
	rows := (len(panels) + cols - 1) / cols
	grid := make([][]*plot.Plot, rows)
	for i := range grid {
		grid[i] = make([]*plot.Plot, cols)
	}
	for i, pn := range panels {
		p, err := cdfPlot(pn)
		if err != nil {
			return err
		}
		grid[i/cols][i%cols] = p
	}
	return writeGrid(path, grid, panelWidth*vg.Length(cols), panelHeight*vg.Length(rows))
}

// writeGrid draws a grid of panels (nil ones left blank) into a PNG of
// width × height at path.
func writeGrid(path string, grid [][]*plot.Plot, width, height vg.Length) error {
	img := vgimg.NewWith(vgimg.UseWH(width, height), vgimg.UseDPI(plotDPI))
	tiles := draw.Tiles{Rows: len(grid), Cols: len(grid[0]), PadX: vg.Millimeter * 4, PadY: vg.Millimeter * 4,
		PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2, PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 2}
	canvases := plot.Align(grid, tiles, draw.New(img))
	for i := range grid {
		for j, p := range grid[i] {
			if p != nil {
				p.Draw(canvases[i][j])
			}
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// cdfPlot draws one panel: the fraction of deliveries at or under each
// latency, on a log latency axis, one line per series.
func cdfPlot(pn Panel) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = pn.Title
	p.X.Label.Text = "delivery latency (ms, log scale)"
	p.Y.Label.Text = "fraction of deliveries ≤ latency"
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = ticks125{}
	p.Y.Min, p.Y.Max = 0, 1
	p.Add(plotter.NewGrid())
	p.Legend.Top, p.Legend.Left = true, true // the curves rise on the right
	drawn := 0
	for i, s := range pn.Series {
		if len(s.CDF) < 2 {
			continue
		}
		pts := make(plotter.XYs, len(s.CDF))
		for j, v := range s.CDF {
			pts[j] = plotter.XY{X: max(v, minPlotMs), Y: float64(j) / float64(len(s.CDF)-1)}
		}
		l, err := plotter.NewLine(pts)
		if err != nil {
			return nil, fmt.Errorf("bench: plot %s: %w", s.Name, err)
		}
		l.Color = plotutil.Color(i)
		l.Dashes = plotutil.Dashes(i)
		l.Width = vg.Points(lineWidth)
		p.Add(l)
		p.Legend.Add(s.Name, l)
		drawn++
	}
	if drawn == 0 {
		p.X.Min, p.X.Max = 1, 10 // an empty panel still needs a log range
	}
	return p, nil
}

// ticks125 labels a log axis at 1, 2 and 5 of every decade, with unlabelled
// ticks between: plot.LogTicks labels powers of ten only, too few for a
// latency range of one or two decades.
type ticks125 struct{}

// Ticks implements plot.Ticker.
func (ticks125) Ticks(lo, hi float64) []plot.Tick {
	var out []plot.Tick
	for dec := math.Pow(10, math.Floor(math.Log10(lo))); dec <= hi; dec *= 10 {
		for m := 1; m <= 9; m++ {
			v := float64(m) * dec
			if v < lo || v > hi {
				continue
			}
			t := plot.Tick{Value: v}
			if m == 1 || m == 2 || m == 5 {
				t.Label = strconv.FormatFloat(v, 'g', 4, 64)
			}
			out = append(out, t)
		}
	}
	return out
}
