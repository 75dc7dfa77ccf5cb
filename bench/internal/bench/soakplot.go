package bench

import (
	"fmt"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// soakLine is one curve of a soak panel.
type soakLine struct {
	name string
	val  func(SoakSample) float64
}

// WriteSoakPlot writes the server's readings over the run to a PNG: memory
// (live heap and RSS), goroutines, open fds, and live connections.
func WriteSoakPlot(path string, res *SoakResult) error {
	panels := []struct {
		title, unit string
		lines       []soakLine
	}{
		{"memory", "MB", []soakLine{{"live heap", func(s SoakSample) float64 { return s.HeapMB }}, {"RSS", func(s SoakSample) float64 { return s.RSSMB }}}},
		{"goroutines", "goroutines", []soakLine{{"goroutines", func(s SoakSample) float64 { return s.Goroutines }}}},
		{"open file descriptors", "fds", []soakLine{{"fds", func(s SoakSample) float64 { return s.FDs }}}},
		{"connections", "connections", []soakLine{{"ws_connections_active", func(s SoakSample) float64 { return s.Conns }}}},
	}
	const cols, rows = 2, 2
	grid := [][]*plot.Plot{make([]*plot.Plot, cols), make([]*plot.Plot, cols)}
	for i, pn := range panels {
		p := plot.New()
		p.Title.Text = fmt.Sprintf("soak: %s (%d churners, %.0f s)", pn.title, res.Clients, res.DurationS)
		p.X.Label.Text = "time (s)"
		p.Y.Label.Text = pn.unit
		p.Y.Min = 0
		p.Add(plotter.NewGrid())
		p.Legend.Top = true
		for j, l := range pn.lines {
			pts := make(plotter.XYs, len(res.Samples))
			for k, s := range res.Samples {
				pts[k] = plotter.XY{X: s.Seconds, Y: l.val(s)}
			}
			line, err := plotter.NewLine(pts)
			if err != nil {
				return fmt.Errorf("bench: soak plot %s: %w", l.name, err)
			}
			line.Color = plotutil.Color(j)
			line.Width = vg.Points(lineWidth)
			p.Add(line)
			p.Legend.Add(l.name, line)
		}
		grid[i/cols][i%cols] = p
	}
	return writeGrid(path, grid, panelWidth*cols, panelHeight*rows)
}
