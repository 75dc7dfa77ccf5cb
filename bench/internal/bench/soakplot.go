package bench

import (
	"fmt"
	"os"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
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
	img := vgimg.NewWith(vgimg.UseWH(panelWidth*cols, panelHeight*rows), vgimg.UseDPI(plotDPI))
	tiles := draw.Tiles{Rows: rows, Cols: cols, PadX: vg.Millimeter * 4, PadY: vg.Millimeter * 4,
		PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2, PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 2}
	canvases := plot.Align(grid, tiles, draw.New(img))
	for i := range grid {
		for j, p := range grid[i] {
			p.Draw(canvases[i][j])
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
