package bench

import (
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func fakeComparison(t *testing.T) *Comparison {
	dir := t.TempDir()
	res := func(p50, p99 float64, rss float64) *Result {
		return &Result{Scenario: ScenarioFanout, Latency: LatencySummary{P50: p50, P99: p99},
			Server: &ServerStats{RSSPerConnKB: rss}, CDF: []float64{p50 / 2, p50, p99}}
	}
	return &Comparison{
		Config: CompareConfig{Scenarios: []Scenario{ScenarioFanout}, Peers: []PeerKind{PeerGateway, PeerSocketIO}, Rounds: 2, OutDir: dir,
			PlotCopy: filepath.Join(dir, "copy", "latency.png")},
		Measurements: []Measurement{
			{Scenario: ScenarioFanout, Peer: PeerGateway, Round: 1, Result: res(1, 4, 40)},
			{Scenario: ScenarioFanout, Peer: PeerSocketIO, Round: 1, Result: res(2, 8, 20)},
			{Scenario: ScenarioFanout, Peer: PeerGateway, Round: 2, Result: res(3, 6, 40)},
			{Scenario: ScenarioFanout, Peer: PeerSocketIO, Round: 2, Err: "bench: socketio exited before serving"},
		},
	}
}

func TestMarkdownHasMediansRatiosAndFailures(t *testing.T) {
	var b strings.Builder
	if err := fakeComparison(t).WriteMarkdown(&b); err != nil {
		t.Fatal(err)
	}
	md := b.String()
	for _, want := range []string{
		"| metric | gateway | socketio | gateway/socketio |",
		"| runs ok | 2/2 | 1/2 |",
		"| latency p50 (ms) | 2.00 | 2.00 | 1.00× |", // median of 1 and 3
		"| latency p99 (ms) | 5.00 | 8.00 | 0.62× |", // median of 4 and 6
		"| server RSS per connection (KB) | 40.0 | 20.0 | 2.00× |",
		"latency p99 (ms) per round: gateway 4.00, 6.00; socketio 8.00.",
		"- socketio round 2: `bench: socketio exited before serving`",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
}

func TestWriteFilesWritesPlots(t *testing.T) {
	c := fakeComparison(t)
	files, err := c.WriteFiles()
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 5 { // results.md, results.jsonl, latency-fanout.png, latency.png, the copy
		t.Errorf("wrote %v", files)
	}
	f, err := os.Open(c.Config.PlotCopy)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil || img.Bounds().Dx() < 100 {
		t.Errorf("plot copy is not a PNG figure: %v", err)
	}
}
